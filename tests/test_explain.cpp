// fcnet explain: the seed's worked example. Its inputs must be the ones NumPy draws (CS231n's toy,
// committed as a PyTorch fixture), and every printed number must agree with that fixture, with the
// library's gradient and with central differences.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fcnet/explain.hpp"
#include "test_util.hpp"

using namespace fcnet;
using namespace fcnet::test;
using json = nlohmann::json;

namespace {

// Fixture tensor `name` as rows×cols.
std::vector<double> fixture_values(const SafeTensors& st, const std::string& name) {
  return st.tensors.at(name).to_double(name);
}

void expect_matrix_near(const Matrix<double>& m, const std::vector<double>& want, double tol,
                        const std::string& what) {
  ASSERT_EQ(static_cast<std::size_t>(m.size()), want.size()) << what;
  for (int64_t i = 0; i < m.size(); ++i)
    EXPECT_NEAR(m[i], want[static_cast<std::size_t>(i)], tol * std::max(1.0, std::fabs(m[i])))
        << what << " entry " << i;
}

}  // namespace

TEST(Explain, NumpyLegacyGeneratorMatchesNumpy) {
  // np.random.seed(7); np.random.randn(5) with NumPy 1.24.
  const double want[] = {1.6905257, -0.46593737, 0.03282016, 0.40751628, -0.78892303};
  NumpyLegacyRandom rng(7);
  for (double w : want) EXPECT_NEAR(rng.randn(), w, 5e-9);
}

TEST(Explain, SeedZeroIsTheCourseToyAndMatchesPyTorch) {
  const SafeTensors st = read_safetensors(fixture_path("toy_cs231n.safetensors"));
  const SeedExample ex = explain_seed_example(0);
  // The inputs NumPy drew for the fixture (np.random.seed(0) and (1)), bit for bit up to libm.
  expect_matrix_near(ex.X, fixture_values(st, "x"), 1e-15, "X");
  expect_matrix_near(ex.W1, fixture_values(st, "W1"), 1e-15, "W1");
  expect_matrix_near(ex.W2, fixture_values(st, "W2"), 1e-15, "W2");
  expect_matrix_near(ex.S, fixture_values(st, "scores"), 1e-12, "S");
  expect_matrix_near(ex.O2, fixture_values(st, "probs"), 1e-12, "O2");
  EXPECT_NEAR(ex.L, std::stod(st.metadata.at("loss_reg0")), 1e-12);
  // The course prints these scores (8 decimals) for its toy network.
  EXPECT_NEAR(ex.S(0, 0), -0.81233741, 5e-9);
  EXPECT_NEAR(ex.S(4, 2), -0.15226949, 5e-9);

  // The seed's formulas on the forward values.
  for (int64_t i = 0; i < 5; ++i) {
    double row = 0, u = 0;
    for (int64_t k = 0; k < 3; ++k) u += ex.U(i, k);
    for (int64_t k = 0; k < 3; ++k) {
      EXPECT_NEAR(ex.O2(i, k), ex.U(i, k) / u, 1e-15);
      row += ex.dLi_dS(i, k);
      const double want = ex.O2(i, k) - (k == ex.y[static_cast<std::size_t>(i)] ? 1.0 : 0.0);
      EXPECT_NEAR(ex.dLi_dS(i, k), want, 1e-15);  // eq. 1.3
    }
    EXPECT_NEAR(row, 0.0, 1e-15);
    EXPECT_NEAR(ex.Li[static_cast<std::size_t>(i)],
                -std::log(ex.O2(i, ex.y[static_cast<std::size_t>(i)])), 1e-14);
    for (int64_t h = 0; h < 10; ++h) {
      EXPECT_EQ(ex.O1(i, h), std::max(0.0, ex.Z1(i, h)));
      EXPECT_GT(std::fabs(ex.Z1(i, h)), 1e-3);  // clear of relu's kink
    }
  }

  // dL/dW2: the written-out formula, the library and PyTorch's autograd agree; central
  // differences agree to ~1e-9. (The snippet's sign is checked against NumPy below.)
  const auto torch_dW2 = fixture_values(st, "grad_W2_reg0");
  expect_matrix_near(ex.dW2_library, torch_dW2, 1e-12, "dW2 vs PyTorch");
  expect_matrix_near(ex.dW2_formula, torch_dW2, 1e-12, "formula vs PyTorch");
  expect_matrix_near(ex.dW2_numerical, torch_dW2, 1e-9, "numerical vs PyTorch");
  expect_matrix_near(ex.db2_library, fixture_values(st, "grad_b2_reg0"), 1e-12, "db2");
  expect_matrix_near(ex.db2_numerical, fixture_values(st, "grad_b2_reg0"), 1e-9, "db2 numerical");
  for (int64_t i = 0; i < 30; ++i) EXPECT_NEAR(ex.dW2_formula[i], ex.dW2_library[i], 1e-15);
  EXPECT_LT(ex.max_abs_diff_formula, 1e-15);
  EXPECT_LT(ex.max_abs_diff_numerical, 1e-9);
  EXPECT_GT(ex.max_abs_diff_numerical, 0.0);  // a real finite difference, not a copy
}

TEST(Explain, OtherSeedMatchesNumpyComputation) {
  // NumPy 1.24: np.random.seed(7); W1 = 0.1*randn(4,10); W2 = 0.1*randn(10,3); np.random.seed(8);
  // X = 10*randn(5,4); forward and (1/5)*O1.T @ (O2 - onehot(y)) in plain NumPy.
  const SeedExample ex = explain_seed_example(7);
  EXPECT_NEAR(ex.W1(3, 9), -0.032941375191306514, 1e-16);
  EXPECT_NEAR(ex.W2(9, 2), -0.11799820934582053, 1e-16);
  EXPECT_NEAR(ex.X(0, 0), 0.9120471661981977, 1e-14);
  EXPECT_NEAR(ex.X(4, 3), -2.086362347321561, 1e-14);
  EXPECT_NEAR(ex.L, 1.0837812667838402, 1e-13);
  const double li[] = {1.94713956, 0.86762527, 0.61267289, 0.86010904, 1.13135957};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(ex.Li[static_cast<std::size_t>(i)], li[i], 5e-9);
  EXPECT_NEAR(ex.dW2_library(0, 0), 0.11337024972423804, 1e-13);
  EXPECT_NEAR(ex.dW2_library(9, 2), -0.023232147866062702, 1e-13);
  EXPECT_NEAR(ex.dW2_library(4, 1), 0.463060793394802, 1e-13);
  EXPECT_NEAR(ex.dW2_numerical(4, 1), 0.463060793394802, 1e-9);
  EXPECT_NEAR(ex.dW2_snippet(4, 1), -0.463060793394802, 1e-13);
}

TEST(Explain, RejectsSeedNumpyCannotTake) {
  EXPECT_THROW(explain_seed_example(0xFFFFFFFFULL), Error);
}

TEST(ExplainCli, JsonAndTextPrintTheCheckedGradient) {
  const SafeTensors st = read_safetensors(fixture_path("toy_cs231n.safetensors"));
  const auto torch_dW2 = fixture_values(st, "grad_W2_reg0");
  const double torch_loss = std::stod(st.metadata.at("loss_reg0"));
  auto dir = temp_dir("explain-cli");

  auto r = run_cli("explain --json", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_NEAR(j["L"].get<double>(), torch_loss, 1e-12);
  for (int m = 0; m < 10; ++m)
    for (int n = 0; n < 3; ++n) {
      const double want = torch_dW2[static_cast<std::size_t>(m * 3 + n)];
      EXPECT_NEAR(j["dW2"][m][n].get<double>(), want, 1e-12);
      EXPECT_NEAR(j["dW2_numerical"][m][n].get<double>(), want, 1e-9);
      EXPECT_NEAR(j["dW2_snippet"][m][n].get<double>(), -want, 1e-12);
    }

  // The text table: "[m,n]  snippet  fcnet  numerical  |diff|", 10 decimals each.
  r = run_cli("explain", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* part : {"Z1 = X*W1 + b1", "O1 = f(Z1)", "S = O1*W2 + b2", "U = exp(S)",
                           "O2[i,k] = U[i,k] / sum_p U[i,p]", "L_4 = -log O2[4,1]", "(eq. 1.3)",
                           "(-1.0/5)*np.matmul(O_1.T, dL_by_dS)"})
    EXPECT_NE(r.out.find(part), std::string::npos) << part;
  std::istringstream text(r.out);
  std::string line;
  int rows = 0;
  bool saw_loss = false;
  while (std::getline(text, line)) {
    if (line.rfind("L = (1/5) * sum_i L_i = ", 0) == 0) {
      EXPECT_NEAR(std::stod(line.substr(line.rfind(' ') + 1)), torch_loss, 6e-11);
      saw_loss = true;
    }
    int m = -1, n = -1;
    double snippet = 0, fcnet = 0, numerical = 0;
    if (std::sscanf(line.c_str(), "[%d,%d] %lf %lf %lf", &m, &n, &snippet, &fcnet, &numerical) != 5)
      continue;
    ASSERT_TRUE(m >= 0 && m < 10 && n >= 0 && n < 3) << line;
    const double want = torch_dW2[static_cast<std::size_t>(m * 3 + n)];
    EXPECT_NEAR(fcnet, want, 6e-11) << line;
    EXPECT_NEAR(numerical, want, 1e-9) << line;
    EXPECT_NEAR(snippet, -want, 6e-11) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 30);
  EXPECT_TRUE(saw_loss);
}

TEST(ExplainCli, HtmlPageIsSelfContainedTables) {
  auto dir = temp_dir("explain-html");
  const auto page = dir / "explain.html";
  auto r = run_cli("explain --seed 3 --html " + page.string(), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  const std::string html = read_file(page.string());
  const SeedExample ex = explain_seed_example(3);
  char loss[64];
  std::snprintf(loss, sizeof loss, "= %.10f", ex.L);
  EXPECT_NE(html.find(std::string("id=\"total-loss\">") + loss), std::string::npos);
  for (const char* id : {"id=\"forward\"", "id=\"loss\"", "id=\"backward\"", "id=\"dW2\"",
                         "id=\"db2\"", "id=\"checks\"", "np.random.seed(4)"})
    EXPECT_NE(html.find(id), std::string::npos) << id;
  // 30 rows of dW2 entries, each printing the library's value with 10 decimals.
  const auto table = html.substr(html.find("id=\"dW2\""));
  char cell[64];
  std::snprintf(cell, sizeof cell, "<td>%.10f</td>", ex.dW2_library(9, 2));
  EXPECT_NE(table.find(cell), std::string::npos) << cell;
  std::size_t rows = 0;
  for (auto at = table.find("<tr><th>["); at != std::string::npos && at < table.find("</table>");
       at = table.find("<tr><th>[", at + 1))
    ++rows;
  EXPECT_EQ(rows, 30u);
  for (const char* bad : {"<script", "http://", "https://", "<link", "url("})
    EXPECT_EQ(html.find(bad), std::string::npos) << bad;
}
