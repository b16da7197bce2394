// Entry points of every subcommand, implemented in their components.
#pragma once

namespace opfleet::cli {

int run_version(int argc, char** argv);
int run_config(int argc, char** argv);     // config/show_command.cpp
int run_provision(int argc, char** argv);  // sqs/provision_command.cpp
int run_migrate(int argc, char** argv);    // store/migrate_command.cpp
int run_worker(int argc, char** argv);     // worker/worker_command.cpp
int run_submit(int argc, char** argv);     // worker/submit_command.cpp
int run_runs(int argc, char** argv);       // worker/submit_command.cpp
int run_run(int argc, char** argv);        // worker/submit_command.cpp
int run_netfault(int argc, char** argv);   // netfault/netfault_command.cpp

int run_supervise(int argc, char** argv);  // supervisor/supervise_command.cpp
int run_status(int argc, char** argv);     // supervisor/control_commands.cpp
int run_drain(int argc, char** argv);      // supervisor/control_commands.cpp
int run_resume(int argc, char** argv);     // supervisor/control_commands.cpp
int run_scale(int argc, char** argv);      // scaler/scale_command.cpp
int run_schedule(int argc, char** argv);   // scheduler/schedule_command.cpp
int run_audit(int argc, char** argv);      // audit/audit_command.cpp
int run_loadsim(int argc, char** argv);    // loadsim/loadsim_command.cpp
int run_ui(int argc, char** argv);         // ui/ui_command.cpp

}  // namespace opfleet::cli
