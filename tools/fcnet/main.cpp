// fcnet: train, evaluate and inspect fully-connected classifiers from the shell.
#include <cstdio>
#include <map>

#include "cli.hpp"
#include "fcnet/error.hpp"
#include "fcnet/fcnet_version.h"

int main(int argc, char** argv) {
  CLI::App app{"fcnet: fully-connected neural-network classifiers with exact, fast backprop"};
  app.name("fcnet");
  app.require_subcommand(1);
  app.set_version_flag("--version", "fcnet " FCNET_VERSION_STRING);
  std::vector<fcnet::cli::Command> commands = {
      fcnet::cli::add_train(app),  fcnet::cli::add_eval(app),    fcnet::cli::add_predict(app),
      fcnet::cli::add_info(app),   fcnet::cli::add_loss(app),    fcnet::cli::add_gradcheck(app),
      fcnet::cli::add_report(app), fcnet::cli::add_explain(app), fcnet::cli::add_export(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "fcnet: error: %s\nRun 'fcnet --help' or 'fcnet <command> --help'.\n",
                 e.what());
    return 2;
  }
  try {
    for (auto& c : commands)
      if (c.app->parsed()) {
        fcnet::cli::check_output_paths(*c.app);
        return c.run();
      }
  } catch (const CLI::ValidationError& e) {
    std::fprintf(stderr, "fcnet: error: %s\n", e.what());
    return 2;
  } catch (const fcnet::Error& e) {
    std::fprintf(stderr, "fcnet: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "fcnet: error: out of memory: an allocation failed, expected a smaller data set, "
                 "network or --batch\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fcnet: error: %s\n", e.what());
    return 1;
  }
  return 2;
}
