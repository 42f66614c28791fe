// fcnet: train, evaluate and inspect fully-connected classifiers from the shell.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
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
        const int code = c.run();
        // What went to standard output must have reached it (a full disk, a closed pipe): a
        // command whose results were lost does not exit 0.
        std::cout.flush();
        if (std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout) {
          const int e = errno;
          std::fprintf(stderr, "fcnet: error: standard output: cannot write%s%s\n",
                       e != 0 ? ": " : " (an earlier write failed)",
                       e != 0 ? std::strerror(e) : "");
          return code == 0 ? 1 : code;
        }
        return code;
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
