/* The workload programs; each returns its exit status and prints one final summary line. */
#pragma once

int hello_main(const char *cmdline);
int memfill_main(const char *cmdline);
int ptchurn_main(const char *cmdline);
int ptrandom_main(const char *cmdline);
int tlbwalk_main(const char *cmdline);
int idle_main(const char *cmdline);
int fault_main(const char *cmdline);
int genid_main(const char *cmdline);
int compute_main(const char *cmdline);
