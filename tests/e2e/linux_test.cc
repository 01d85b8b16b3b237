// End-to-end tests of Linux guests (issue 14): Debian 12's own kernel, fetched into the
// build directory by scripts/fetch-linux.sh, booted by the real binary from both forms
// (bzImage and vmlinux) with the busybox initramfs up to /init and its poweroff. Bad input
// is refused before anything runs.
//
// The boots skip only when the kernel cannot be fetched (no Debian archive), saying why.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/run_densevm.h"

namespace densevm::testing {
namespace {

const std::string kLinuxDir = std::string(DENSEVM_BUILD_DIR) + "/linux";

// The cached kernel and initramfs, fetched if missing; "" when they are there, else why not.
std::string fetch_linux() {
  static const std::string why = [] {
    const std::string log = temp_path("fetch.log");
    const std::string cmd = "bash " + std::string(DENSEVM_SOURCE_DIR) + "/scripts/fetch-linux.sh " +
                            DENSEVM_BUILD_DIR + " >" + log + " 2>&1";
    const int rc = std::system(cmd.c_str());
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::remove(log.c_str());
    return rc == 0 ? std::string() : "cannot fetch Debian's kernel: " + text;
  }();
  return why;
}

#define REQUIRE_LINUX()                          \
  do {                                           \
    const std::string why = fetch_linux();       \
    if (!why.empty()) GTEST_SKIP() << why;       \
  } while (0)

std::string file(const std::string& name) { return kLinuxDir + "/" + name; }

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Boots `kernel` with the initramfs; /init prints its line, runs `run` and powers off.
// cryptomgr.notests skips the crypto self-tests (0.75 G of the 1.5 G instructions to /init):
// a test's time, not something the boot needs.
CliResult boot(const std::string& kernel, const std::string& run, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"run", "--kernel", file(kernel), "--initrd", file("initramfs.cpio"),
                                   "--mem", "256M", "--cmdline",
                                   "console=ttyS0 cryptomgr.notests densevm.run=\"" + run + "\""};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_densevm(args);
}

void expect_booted_to_init(const CliResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err << "\n" << r.out.substr(r.out.size() > 4000 ? r.out.size() - 4000 : 0);
  EXPECT_NE(r.out.find("Linux version 6.1"), std::string::npos);
  EXPECT_NE(r.out.find("Run /init as init process"), std::string::npos);
  EXPECT_NE(r.out.find("densevm-init: /init running, kernel 6.1"), std::string::npos);
  EXPECT_NE(r.out.find("densevm-init: powering off"), std::string::npos);
  EXPECT_NE(r.out.find("reboot: Power down"), std::string::npos);
  EXPECT_EQ(r.err, "");
}

TEST(LinuxGuest, VmlinuxBootsToInitAndPowersOff) {
  REQUIRE_LINUX();
  expect_booted_to_init(boot("vmlinux", "echo marker-$((6*7))"));
}

TEST(LinuxGuest, BzImageBootsToInitAndPowersOff) {
  REQUIRE_LINUX();
  const CliResult r = boot("vmlinuz", "echo marker-$((6*7))");
  expect_booted_to_init(r);
  EXPECT_NE(r.out.find("marker-42"), std::string::npos) << "densevm.run ran";
}

// The kernel's own virtio_mmio finds the balloon through the DSDT (LNRO0005) and its own
// virtio_balloon binds to it.
TEST(LinuxGuest, ItsOwnVirtioBalloonDriverBinds) {
  REQUIRE_LINUX();
  const CliResult r = boot("vmlinux", "ls /sys/bus/virtio/drivers/virtio_balloon/");
  expect_booted_to_init(r);
  EXPECT_NE(r.out.find("virtio0"), std::string::npos) << r.out;
}

// --balloon-target takes memory from a Linux guest through its own driver: with 256 MiB and
// a 128 MiB target, 32768 pages go into the balloon while /init sleeps, and the guest sees
// them gone (MemFree). The driver gives them back when it is removed at poweroff.
TEST(LinuxGuest, BalloonTargetTakesMemoryFromLinux) {
  REQUIRE_LINUX();
  CliResult r;
  const nlohmann::json doc = run_stats(
      {"run", "--kernel", file("vmlinux"), "--initrd", file("initramfs.cpio"), "--mem", "256M",
       "--balloon-target", "128M", "--cmdline",
       "console=ttyS0 cryptomgr.notests densevm.run=\"sleep 3; grep MemFree /proc/meminfo\""},
      &r);
  expect_booted_to_init(r);
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc["vms"][0]["balloon"]["inflated_total"], 32768);
  EXPECT_EQ(doc["vms"][0]["balloon"]["device_failures"], 0);
  const size_t at = r.out.find("MemFree:");
  ASSERT_NE(at, std::string::npos) << r.out;
  const long free_kb = std::strtol(r.out.c_str() + at + 8, nullptr, 10);
  EXPECT_GT(free_kb, 0);
  EXPECT_LT(free_kb, 100 * 1024) << "128 MiB of 256 MiB are in the balloon";
}

// /init's way to write a marker (port 0xf6): `--checkpoint-at marker` and host.marker_samples.
const std::string kMark = "printf x | dd of=/dev/port bs=1 seek=246 count=1 2>/dev/null";
// Fills 160 MiB of a 256 MiB guest's page cache (tmpfs), marks, frees it, waits `secs`, marks.
std::string fill_free_and_wait(int secs) {
  return "dd if=/dev/zero of=/tmp/fill bs=1M count=160 2>/dev/null; " + kMark + "; rm /tmp/fill; sleep " +
         std::to_string(secs) + "; " + kMark;
}

// host.marker_samples of VM `vm`'s marker `marker`.
nlohmann::json sample_of(const nlohmann::json& doc, int vm, int marker) {
  for (const nlohmann::json& s : doc["host"]["marker_samples"]) {
    if (s["vm"] == vm && s["marker"] == marker) return s;
  }
  return nullptr;
}

// How much `key` fell from one sample to a later one (0 if it rose).
uint64_t fall(const nlohmann::json& full, const nlohmann::json& after, const char* key) {
  const uint64_t a = full[key], b = after[key];
  return a > b ? a - b : 0;
}

constexpr uint64_t kMiB = uint64_t{1} << 20;

// --host-budget takes from Linux guests what they allocated and freed, through their own
// balloon drivers, and host RSS falls by it while they run (sampled at /init's markers: at the
// end of the run the VMs have given everything back). Two guests of 256 MiB in a 256 MiB
// budget: the policy's targets hold 128 MiB of each; the guests' statistics reach it.
TEST(LinuxGuest, HostBudgetTakesWhatLinuxFreedAndRssFallsWhileItRuns) {
  REQUIRE_LINUX();
  CliResult r;
  const nlohmann::json doc = run_stats(
      {"run", "--kernel", file("vmlinux"), "--initrd", file("initramfs.cpio"), "--mem", "256M", "--vms", "2",
       "--host-budget", "256M", "--cmdline",
       "console=ttyS0 cryptomgr.notests densevm.run=\"" + fill_free_and_wait(3) + "\""},
      &r);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(doc.is_object()) << r.err;
  ASSERT_EQ(doc["host"]["marker_samples"].size(), 4u) << doc["host"].dump(2);
  // Both guests full (the later of their first markers), then both freed and ballooned.
  const nlohmann::json& last_full = doc["host"]["marker_samples"][1];
  const nlohmann::json& last_after = doc["host"]["marker_samples"][3];
  ASSERT_EQ(last_full["marker"], 1) << doc["host"].dump(2);
  ASSERT_EQ(last_after["marker"], 2) << doc["host"].dump(2);
  EXPECT_EQ(last_full["ballooned_pages"], 0) << "a guest still growing keeps what it holds";
  EXPECT_EQ(last_after["ballooned_pages"], 2 * 128 * kMiB / 4096) << "512 MiB of guests in a 256 MiB budget";
  const uint64_t ballooned = last_after["ballooned_pages"].get<uint64_t>() * 4096;
  const uint64_t frames_freed = fall(last_full, last_after, "resident_pages") * 4096;
  // Most of what the balloon took had been touched (the freed page cache); the host's RSS
  // falls by the frames the VMs gave back, less what else the process grew meanwhile.
  EXPECT_GE(frames_freed, ballooned * 2 / 3) << doc["host"].dump(2);
  EXPECT_GE(fall(last_full, last_after, "rss_bytes") + 16 * kMiB, frames_freed) << doc["host"].dump(2);
  for (const nlohmann::json& vm : doc["vms"]) {
    EXPECT_EQ(vm["balloon"]["device_failures"], 0);
    EXPECT_GT(vm["balloon"]["stats_updates"].get<uint64_t>(), 1u) << "the driver sends its statistics";
    EXPECT_GT(vm["balloon"]["guest_free_bytes"].get<uint64_t>(), 0u);
  }
}

// With no balloon target, Linux's free page reporting alone gives back what the guest freed:
// it reports 2 MiB blocks once a zone has over 64 MiB of them free, 2 seconds after a free.
TEST(LinuxGuest, FreePageReportingGivesBackWhatLinuxFreed) {
  REQUIRE_LINUX();
  CliResult r;
  const nlohmann::json doc = run_stats(
      {"run", "--kernel", file("vmlinux"), "--initrd", file("initramfs.cpio"), "--mem", "256M", "--cmdline",
       "console=ttyS0 cryptomgr.notests densevm.run=\"" + fill_free_and_wait(5) + "\""},
      &r);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(doc.is_object()) << r.err;
  const nlohmann::json full = sample_of(doc, 0, 1), after = sample_of(doc, 0, 2);
  ASSERT_FALSE(full.is_null() || after.is_null()) << doc["host"].dump(2);
  const nlohmann::json& b = doc["vms"][0]["balloon"];
  EXPECT_EQ(b["inflated_total"], 0);
  EXPECT_GE(b["reported_free_pages"].get<uint64_t>(), 64 * kMiB / 4096) << b.dump(2);
  EXPECT_GE(b["discarded_pages"].get<uint64_t>(), 64 * kMiB / 4096) << b.dump(2);
  const uint64_t frames_freed = fall(full, after, "resident_pages") * 4096;
  EXPECT_GE(frames_freed, 64 * kMiB) << doc["host"].dump(2);
  EXPECT_GE(fall(full, after, "rss_bytes") + 16 * kMiB, frames_freed) << doc["host"].dump(2);
}

// The boot is deterministic and the MMU invisible to the guest: the same console, byte for
// byte (the kernel's timestamps included: they count virtual time), in every MMU mode.
TEST(LinuxGuest, SameConsoleInEveryMmuMode) {
  REQUIRE_LINUX();
  const CliResult shadow = boot("vmlinux", "true", {"--mmu", "shadow"});
  expect_booted_to_init(shadow);
  for (std::vector<std::string> mode : {std::vector<std::string>{"--mmu", "ept"},
                                        std::vector<std::string>{"--mmu", "auto", "--check-mmu"}}) {
    const CliResult r = boot("vmlinux", "true", mode);
    EXPECT_EQ(r.exit_code, 0) << mode[1] << ": " << r.err;
    EXPECT_EQ(r.out, shadow.out) << mode[1];
  }
}

// The translator (the default, --cpu auto) is invisible to the guest too: the interpreter's
// console byte for byte, the same retired instructions, interrupts and page faults, with
// most of the boot run as translated code.
TEST(LinuxGuest, SameBootInEveryCpuMode) {
  REQUIRE_LINUX();
  const std::vector<std::string> args = {"run", "--kernel", file("vmlinux"), "--initrd", file("initramfs.cpio"),
                                         "--mem", "256M", "--cmdline", "console=ttyS0 cryptomgr.notests densevm.run=\"true\""};
  CliResult interp;
  nlohmann::json ref = run_stats(with(args, {"--cpu", "interp"}), &interp);
  expect_booted_to_init(interp);
  ASSERT_TRUE(ref.contains("vms"));
  for (const char* mode : {"auto", "translate"}) {
    CliResult r;
    nlohmann::json s = run_stats(with(args, {"--cpu", mode}), &r);
    ASSERT_TRUE(s.contains("vms")) << mode << ": " << r.err;
    EXPECT_EQ(r.out, interp.out) << mode;
    const nlohmann::json& t = s["vms"][0]["cpu"]["translate"];
    EXPECT_GT(t["retired_translated"].get<uint64_t>(), s["vms"][0]["instructions"].get<uint64_t>() / 2) << mode;
    // Not the soft TLB's statistics either: a host cache, which translated code (its
    // lookups inline, jumps between pages without the run loop's fetch) misses less often.
    for (nlohmann::json* j : {&ref, &s}) {
      (*j)["vms"][0]["cpu"].erase("translate");
      (*j)["vms"][0]["cpu"].erase("decoded_instructions");
      for (const char* k : {"tlb_misses", "shadow_hits", "walk_refs"}) (*j)["vms"][0]["mmu"].erase(k);
    }
    EXPECT_EQ(without_host_facts(s["vms"][0]), without_host_facts(ref["vms"][0])) << mode;
  }
}

// A panic (here: no rdinit, and no root device to mount instead) reboots at once through the ACPI reset register, which
// stops the VM: a non-zero status, the panic on the console.
TEST(LinuxGuest, APanicStopsTheVmWithThePanicOnTheConsole) {
  REQUIRE_LINUX();
  const CliResult r = run_densevm({"run", "--kernel", file("vmlinux"), "--initrd", file("initramfs.cpio"), "--mem",
                                   "256M", "--cmdline", "console=ttyS0 cryptomgr.notests rdinit=/nonexistent"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("Kernel panic - not syncing: VFS: Unable to mount root fs"), std::string::npos)
      << r.out.substr(r.out.size() > 3000 ? r.out.size() - 3000 : 0);
  EXPECT_EQ(r.err, "densevm: vm0 stopped: the guest reset the machine (ACPI reset register): a reboot, or a panic\n");
}

// Clones of a booted Linux, taken at /init's marker (the marker port through /dev/port), 8 of
// them in memory, run on with generation ids of their own (each reads its own through
// /dev/mem, at VMGENID's address): the ACPI event reaches the kernel's vmgenid driver, which
// reseeds the random pool, so the clones read different bytes from /dev/urandom. Without it
// they would read the same: they share every other bit of their state.
TEST(LinuxGuest, EightClonesReseedFromTheirGenerationIds) {
  REQUIRE_LINUX();
  const std::string run = kMark +
                          "; echo genid $(devmem 0x6080 64) $(devmem 0x6088 64); "
                          "echo urandom $(od -An -tx1 -N16 /dev/urandom)";
  CliResult r;
  const nlohmann::json doc = run_stats(
      {"run", "--kernel", file("vmlinux"), "--initrd", file("initramfs.cpio"), "--mem", "128M", "--cmdline",
       "console=ttyS0 cryptomgr.notests densevm.run=\"" + run + "\"", "--checkpoint-at", "marker", "--clones", "8"},
      &r);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(doc.is_object()) << r.err;
  EXPECT_EQ(doc["snapshot"]["clones"], 8);
  ASSERT_EQ(doc["vms"].size(), 8u);
  std::set<std::string> genids, draws;
  for (int vm = 0; vm < 8; ++vm) {
    EXPECT_EQ(doc["vms"][vm]["exit_code"], 0) << vm;
    // Each runs the booted kernel's translations from the template (--share-translations on).
    EXPECT_GT(doc["vms"][vm]["cpu"]["translate"]["shared_reused"].get<uint64_t>(), 100u) << vm;
    for (const char* what : {"genid ", "urandom "}) {
      const std::string tag = "[vm" + std::to_string(vm) + "] " + what;
      const size_t at = r.out.find(tag);
      ASSERT_NE(at, std::string::npos) << tag << "\n" << r.out.substr(r.out.size() > 3000 ? r.out.size() - 3000 : 0);
      const std::string value = r.out.substr(at + tag.size(), r.out.find('\n', at) - at - tag.size());
      if (what[0] == 'g') {
        EXPECT_EQ(value.size(), 2 * 18u + 1) << value;  // "0x<16 digits> 0x<16 digits>"
        genids.insert(value);
      } else {
        EXPECT_EQ(value.size(), 16u * 3 - 1) << value;
        draws.insert(value);
      }
    }
  }
  EXPECT_EQ(genids.size(), 8u) << "a generation id each";
  EXPECT_EQ(draws.size(), 8u) << "eight different draws";
}

// A booted Linux checkpointed at /init's marker, saved to a file and rolled back twice in
// memory, then restored from the file twice: its whole platform (the IOAPIC's entries and
// lines, the clock, the UART's FIFO and interrupt, the local APIC's TSC deadline and TMR, the
// x87/SSE state) is in the one VmState, so the run goes on to its poweroff through the
// rollbacks, and the two restores go on from the marker to the same poweroff, byte for byte.
TEST(LinuxGuest, SavedRolledBackAndRestoredGoesOnToItsPoweroff) {
  REQUIRE_LINUX();
  const std::string snap = temp_path("linux.snap");
  const std::string run =
      "printf x | dd of=/dev/port bs=1 seek=246 count=1 2>/dev/null; sleep 1; date +%Y; echo after-the-marker";
  CliResult r;
  const nlohmann::json doc = run_stats(
      {"run", "--kernel", file("vmlinux"), "--initrd", file("initramfs.cpio"), "--mem", "256M", "--cmdline",
       "console=ttyS0 cryptomgr.notests densevm.run=\"" + run + "\"", "--checkpoint-at", "marker", "--save", snap,
       "--rollback-every", "20000000", "--rollbacks", "2"},
      &r);
  expect_booted_to_init(r);
  EXPECT_NE(r.out.find("after-the-marker"), std::string::npos);
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc["snapshot"]["saved"], true);
  EXPECT_EQ(doc["snapshot"]["rollbacks"]["rounds"].size(), 2u);

  const CliResult first = run_densevm({"restore", snap});
  const CliResult second = run_densevm({"restore", snap, "--lazy"});
  std::remove(snap.c_str());
  EXPECT_EQ(first.exit_code, 0) << first.err << "\n" << first.out;
  EXPECT_EQ(first.out.find("Linux version"), std::string::npos) << "goes on from the marker, no new boot";
  EXPECT_NE(first.out.find("2025\nafter-the-marker"), std::string::npos) << "the clock runs on virtual time";
  EXPECT_NE(first.out.find("reboot: Power down"), std::string::npos) << first.out;
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, first.out);
}

// The planner on densevm's own Linux guests (issue 18): four guests booted to /init, each
// doing something else there (nothing; 8 MiB of /dev/urandom in tmpfs; 16 MiB of zeros; a
// copy of busybox), saved at the marker, fingerprinted and planned. Every guest holds the
// same pages of the kernel and of the initramfs's files; restored together with --dedup on,
// the fleet's frames come within 5% of the guest pages `plan fit` predicted for dedup. The
// plan adds the VMM's own memory of a booted Linux (its decoded pages and translations),
// more than its pages; restored VMs that ran 2 s hold less of it (BENCHMARKS.md).
TEST(LinuxGuest, PlanOfFourGuestsFindsTheKernelAndInitramfsAndPredictsTheirRestore) {
  REQUIRE_LINUX();
  const std::string dir = temp_path("linux-plan");
  std::filesystem::create_directories(dir);
  const std::string run =
      "case $vm in 1) dd if=/dev/urandom of=/tmp/r bs=1M count=8 2>/dev/null;; "
      "2) dd if=/dev/zero of=/tmp/z bs=1M count=16 2>/dev/null;; 3) cp /bin/busybox /tmp/b;; esac; "
      "printf x | dd of=/dev/port bs=1 seek=246 count=1 2>/dev/null; sleep 2; echo after-the-marker";
  const CliResult booted = run_densevm({"run", "--kernel", file("vmlinux"), "--initrd", file("initramfs.cpio"), "--mem",
                                        "128M", "--vms", "4", "--cmdline",
                                        "console=ttyS0 cryptomgr.notests densevm.run=\"" + run + "\"",
                                        "--checkpoint-at", "marker", "--save", dir + "/lx.snap"});
  ASSERT_EQ(booted.exit_code, 0) << booted.err;
  std::vector<std::string> snaps, fps;
  for (int k = 0; k < 4; ++k) {
    snaps.push_back(dir + "/lx.vm" + std::to_string(k) + ".snap");
    fps.push_back(snaps.back() + ".fp");
  }
  const CliResult f = run_densevm(with(with({"plan", "fingerprint"}, snaps), {"-o", dir}));
  ASSERT_EQ(f.exit_code, 0) << f.err;
  const CliResult p = run_densevm(with({"plan", "fit", "--host-mem", "1G", "--reference", "kernel=" + file("vmlinux"),
                                        "--reference", "initramfs=" + file("initramfs.cpio"), "--json"},
                                       fps));
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const nlohmann::json plan = nlohmann::json::parse(p.out);
  const double predicted = plan["techniques"]["dedup"]["guest_bytes"].get<double>();
  EXPECT_LT(predicted, plan["techniques"]["zero"]["guest_bytes"].get<double>()) << "the four share pages";
  // The VMM's own memory, as a booted Linux holds it: more than its guest pages here.
  EXPECT_GT(plan["techniques"]["dedup"]["vmm_bytes"].get<double>(), predicted);
  ASSERT_EQ(plan["references"].size(), 2u);
  for (const nlohmann::json& ref : plan["references"]) {
    SCOPED_TRACE(ref["label"].get<std::string>());
    const uint64_t least = ref["label"] == "kernel" ? 4u << 20 : 1u << 20;
    EXPECT_GE(ref["in_every_vm_bytes"].get<uint64_t>(), least);
    EXPECT_GE(ref["fleet_bytes"].get<uint64_t>(), 4 * ref["in_every_vm_bytes"].get<uint64_t>());
  }

  CliResult r;
  const nlohmann::json stats = run_stats(with(with({"restore"}, snaps), {"--dedup", "on", "--dedup-rate", "max"}), &r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int k = 0; k < 4; ++k) {
    EXPECT_NE(r.out.find("[vm" + std::to_string(k) + "] after-the-marker"), std::string::npos) << r.out;
  }
  ASSERT_TRUE(stats.is_object());
  const double frames = stats["host"]["frames_resident"].get<double>() * 4096;
  EXPECT_LT(std::abs(frames - predicted) / predicted, 0.05) << "frames " << frames << " predicted " << predicted;
  std::printf("plan of four Linux guests: dedup predicted %.1f MiB of guest pages, %.1f MiB with the VMM's (booted); "
              "restored: frames %.1f MiB (%+.2f%%), RssAnon %.1f MiB\n", predicted / 1048576,
              plan["techniques"]["dedup"]["host_bytes"].get<double>() / 1048576, frames / 1048576,
              100 * (frames - predicted) / predicted, stats["host"]["rss_anon_bytes"].get<double>() / 1048576);
  std::filesystem::remove_all(dir);
}

// ---- bad input: one line on stderr, a non-zero exit, nothing run ----

CliResult refused(const std::vector<std::string>& args) {
  const CliResult r = run_densevm(args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  return r;
}

TEST(LinuxGuestInput, RefusesAFileThatIsNoKernel) {
  const std::string path = temp_path("notakernel");
  write_file(path, std::vector<uint8_t>(8192, 0x90));
  const CliResult r = refused({"run", "--kernel", path});
  std::remove(path.c_str());
  EXPECT_NE(r.err.find("neither an ELF file nor a bzImage"), std::string::npos) << r.err;
}

TEST(LinuxGuestInput, RefusesACorruptOrOldSetupHeader) {
  std::vector<uint8_t> bz(8192, 0);
  bz[0x1f1] = 4;
  bz[0x1fe] = 0x55;
  bz[0x1ff] = 0xaa;
  bz[0x201] = 0x6a;
  std::memcpy(bz.data() + 0x202, "HdrS", 4);
  bz[0x206] = 0x0b;  // protocol 2.11
  bz[0x207] = 0x02;
  const std::string path = temp_path("old.bzImage");
  write_file(path, bz);
  const CliResult old = refused({"run", "--kernel", path});
  EXPECT_NE(old.err.find("2.11 is too old"), std::string::npos) << old.err;
  bz[0x206] = 0x0f;
  bz[0x201] = 0x10;  // the header would end inside itself
  write_file(path, bz);
  const CliResult corrupt = refused({"run", "--kernel", path});
  std::remove(path.c_str());
  EXPECT_NE(corrupt.err.find("corrupt bzImage setup header"), std::string::npos) << corrupt.err;
}

TEST(LinuxGuestInput, RefusesAnInitrdLargerThanRam) {
  REQUIRE_LINUX();
  const std::string path = temp_path("big.initrd");
  {
    std::ofstream out(path, std::ios::binary);
    out.seekp((65 << 20) - 1);
    out.put(0);
  }
  const CliResult r = refused({"run", "--kernel", file("vmlinux"), "--initrd", path, "--mem", "64M"});
  std::remove(path.c_str());
  EXPECT_NE(r.err.find("larger than guest RAM"), std::string::npos) << r.err;
}

TEST(LinuxGuestInput, RefusesAnInitrdForAGuestThatIsNotLinux) {
  const CliResult r = refused({"run", "--initrd", "/dev/null"});
  EXPECT_NE(r.err.find("--initrd requires --kernel"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace densevm::testing
