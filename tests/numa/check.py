#!/usr/bin/env python3
"""Checks what tests/numa/guest-init.sh printed on a QEMU machine of NODES nodes (2 or 4,
CPUs shared out evenly), by the kernel's answers the --stats documents carry: frames_by_node
is move_pages(2) on each VM's frames, cpus what sched_getcpu(3) said after each slice.
Prints one line, "test-numa NODES nodes: ok (...)" or "test-numa NODES nodes: FAIL: ...";
exit 0 on ok.

    check.py QEMU_LOG NODES
"""
import json
import re
import sys


def documents(text):
    docs, statuses = {}, {}
    for m in re.finditer(r"=== status (\w+) (\d+) ===", text):
        statuses[m.group(1)] = int(m.group(2))
    for m in re.finditer(r"=== stats (\w+) ===\r?\n(.*?)=== end \1 ===", text, re.S):
        body = m.group(2).replace("\r", "")
        docs[m.group(1)] = json.loads(body) if body.strip() else None
    return docs, statuses


def main():
    log, nodes = sys.argv[1], int(sys.argv[2])
    text = open(log, errors="replace").read()
    failures, notes = [], []

    def expect(cond, what):
        if not cond:
            failures.append(what)
        return cond

    if not expect("numa-guest: done" in text, "the guest did not finish (see %s)" % log):
        print("test-numa %d nodes: FAIL: %s" % (nodes, "; ".join(failures)))
        return 1
    docs, statuses = documents(text)
    for name in ["auto", "node", "pervm", "interleave", "off", "local", "global", "majority", "budget", "full", "saved",
                 "restored", "moved"]:
        expect(statuses.get(name) == 0 and docs.get(name), "%s: densevm failed (status %s)" % (name, statuses.get(name)))
    if failures:
        print("test-numa %d nodes: FAIL: %s" % (nodes, "; ".join(failures)))
        return 1

    per = 4 // nodes
    cpus_of = {n: set(range(n * per, (n + 1) * per)) for n in range(nodes)}
    for name in ["auto", "local", "global"]:
        d = docs[name]
        expect([n["node"] for n in d["numa"]["nodes"]] == list(range(nodes)), "%s: numa.nodes lists the nodes" % name)
        expect(d["numa"]["by_node"], "%s: pools by node" % name)

    def on_home(name, vm):
        home = vm["numa"]["home_node"]
        by = vm["numa"]["frames_by_node"]
        return home is not None and sum(by) > 0 and by[home] == sum(by)

    # auto: 4 equal VMs spread evenly over the nodes (which node first depends on free
    # memory), every frame on its home by the kernel's answer, every slice on a CPU of the
    # home node.
    d = docs["auto"]
    homes = [vm["numa"]["home_node"] for vm in d["vms"]]
    expect(sorted(homes) == sorted(k % nodes for k in range(4)), "auto: homes %s, not even" % homes)
    for vm in d["vms"]:
        expect(on_home("auto", vm), "auto: vm%d frames_by_node %s, home %s" % (vm["id"], vm["numa"]["frames_by_node"], vm["numa"]["home_node"]))
        expect(vm["numa"]["remote_mappings"] == 0, "auto: vm%d has %d remote mappings" % (vm["id"], vm["numa"]["remote_mappings"]))
        home = vm["numa"]["home_node"]
        ran = d["numa"]["vm_cpus"][vm["id"]]
        expect(ran and set(ran) <= cpus_of.get(home, set()),
               "auto: vm%d ran on CPUs %s, node %s has %s" % (vm["id"], ran, home, sorted(cpus_of.get(home, []))))
    expect([n["vms"] for n in d["numa"]["nodes"]] == [4 // nodes + (1 if i < 4 % nodes else 0) for i in range(nodes)],
           "auto: numa.nodes[].vms %s" % [n["vms"] for n in d["numa"]["nodes"]])
    frames = sum(sum(vm["numa"]["frames_by_node"]) for vm in d["vms"])
    notes.append("auto %d frames 100%% home" % frames)

    # node:N and a per-VM choice: every VM on the last node.
    for name in ["node", "pervm"]:
        for vm in docs[name]["vms"]:
            expect(vm["numa"]["home_node"] == nodes - 1 and on_home(name, vm),
                   "%s: vm%d home %s frames %s" % (name, vm["id"], vm["numa"]["home_node"], vm["numa"]["frames_by_node"]))
            ran = docs[name]["numa"]["vm_cpus"][vm["id"]]
            expect(ran and set(ran) <= cpus_of[nodes - 1], "%s: vm%d ran on %s" % (name, vm["id"], ran))
        # Every frame in use, the P2Ms' and shadow tables' with the guest pages, on that node.
        d = docs[name]
        on = [n["frames"] for n in d["numa"]["nodes"]]
        expect(on[:-1] == [0] * (nodes - 1) and on[-1] + d["numa"]["frames_not_present"] == d["host"]["frames_resident"],
               "%s: frames by node %s, %d resident" % (name, on, d["host"]["frames_resident"]))

    # interleave: no home, frames on every node, none with much more than its share.
    d = docs["interleave"]
    spread = [sum(vm["numa"]["frames_by_node"][i] for vm in d["vms"]) for i in range(nodes)]
    expect(all(vm["numa"]["home_node"] is None for vm in d["vms"]), "interleave: a VM has a home")
    expect(min(spread) > 0 and max(spread) <= 2 * sum(spread) // nodes, "interleave: frames by node %s" % spread)
    notes.append("interleave %s" % spread)

    # off: no home, no pools, the kernel's placement reported as it is.
    d = docs["off"]
    spread = [sum(vm["numa"]["frames_by_node"][i] for vm in d["vms"]) for i in range(nodes)]
    expect(all(vm["numa"]["home_node"] is None and vm["numa"]["remote_mappings"] == 0 for vm in d["vms"]), "off: a VM has a home")
    expect(not d["numa"]["by_node"] and sum(spread) > 0, "off: pools by node, or no frames")
    notes.append("off %s" % spread)

    # Dedup: local merges only within a node (no remote user of a shared frame but the zero
    # frame), global across nodes (some VMs map a frame of another node).
    local, glob = docs["local"], docs["global"]
    expect(local["dedup"]["merges"] > 0 and glob["dedup"]["merges"] > 0, "dedup: no merges")
    remote_local = sum(vm["numa"]["remote_mappings"] - vm["numa"]["remote_zero_mappings"] for vm in local["vms"])
    remote_global = sum(vm["numa"]["remote_mappings"] - vm["numa"]["remote_zero_mappings"] for vm in glob["vms"])
    expect(remote_local == 0, "dedup local: %d remote mappings of non-zero frames" % remote_local)
    expect(remote_global > 0, "dedup global: no remote mappings (merges stayed within nodes?)")
    notes.append("dedup merges local %d (remote 0) global %d (remote %d)" %
                 (local["dedup"]["merges"], glob["dedup"]["merges"], remote_global))

    # Global merges go where most of their users are: the three VMs of the last node map no
    # remote frame but the zero frame; vm0, alone on node 0, maps the shared ones remotely.
    d = docs["majority"]
    remote = [vm["numa"]["remote_mappings"] - vm["numa"]["remote_zero_mappings"] for vm in d["vms"]]
    expect(d["dedup"]["frames_moved"] > 0, "majority: no frame moved")
    expect([vm["numa"]["home_node"] for vm in d["vms"]] == [0] + [nodes - 1] * 3, "majority: homes")
    expect(remote[1:] == [0, 0, 0] and remote[0] > 0, "majority: remote non-zero mappings %s" % remote)
    notes.append("majority: %d frames moved, remote %s" % (d["dedup"]["frames_moved"], remote))

    # A budget for the last node: its VMs ballooned to fit it, every other VM left alone.
    d = docs["budget"]
    budget_pages = 40 * 4 // nodes * 256
    ram_pages = 64 * 256
    held = 0
    for vm in d["vms"]:
        target = vm["balloon"]["target_pages"]
        if vm["numa"]["home_node"] == nodes - 1:
            expect(target > 0, "budget: vm%d on the budgeted node not ballooned" % vm["id"])
            held += ram_pages - target
        else:
            expect(target == 0, "budget: vm%d on node %s ballooned (%d pages)" % (vm["id"], vm["numa"]["home_node"], target))
    expect(0 < held <= budget_pages, "budget: the last node's VMs hold %d pages, budget %d" % (held, budget_pages))
    notes.append("budget: node %d's VMs hold %d of %d pages" % (nodes - 1, held, budget_pages))

    # A full node: the VM runs to its end, part of its frames on another node by the
    # kernel's answer, and the pool's fall-back counted.
    d = docs.get("full")
    if expect(statuses.get("full") == 0 and d, "full: densevm failed (status %s)" % statuses.get("full")):
        vm = d["vms"][0]
        by = vm["numa"]["frames_by_node"]
        fallbacks = d["numa"]["nodes"][nodes - 1]["fallback_frames"]
        expect(vm["exit_code"] == 0, "full: the VM did not exit 0")
        expect(fallbacks > 0 and sum(by) - by[nodes - 1] > 0 and vm["numa"]["remote_mappings"] > 0,
               "full: no fall-back (frames %s, fallback_frames %d)" % (by, fallbacks))
        # The pool is sized from the node's free memory less the kernel's reserve (zone
        # watermarks and lowmem protection), so what it hands out the kernel puts on the node:
        # most of it, the VMM's own memory on that node taking the rest (with 48 MiB left on
        # the node, pools of 6-23 MiB: 40-100% in eight runs; 13-36% before, with the reserve
        # counted in the pool; guest-init.sh now leaves 96 MiB).
        pool = d["numa"]["nodes"][nodes - 1]["pool_frames"]
        expect(pool > 0 and by[nodes - 1] >= pool * 2 // 5,
               "full: %d of the pool's %d frames on the node" % (by[nodes - 1], pool))
        notes.append("full node: %.0f%% home, %d frames elsewhere, %d fall-backs, pool %d frames %.0f%% on the node" %
                     (100.0 * by[nodes - 1] / max(1, sum(by)), sum(by) - by[nodes - 1], fallbacks, pool,
                      100.0 * by[nodes - 1] / max(1, pool)))

    # Snapshots: the home node recorded, restored there, or moved and said so.
    for name, node in [("saved", nodes - 1), ("restored", nodes - 1), ("moved", 0)]:
        d = docs.get(name)
        if not expect(statuses.get(name) == 0 and d, "%s: densevm failed (status %s)" % (name, statuses.get(name))):
            continue
        vm = d["vms"][0]
        expect(vm["numa"]["home_node"] == node and on_home(name, vm),
               "%s: home %s frames %s" % (name, vm["numa"]["home_node"], vm["numa"]["frames_by_node"]))
        if name != "saved":
            expect(vm["numa"].get("saved_home_node") == nodes - 1,
                   "%s: saved_home_node %s" % (name, vm["numa"].get("saved_home_node")))
    m = re.search(r"=== moved said: (.*) ===", text)
    expect(m and "was on NUMA node %d when saved; restored on node 0" % (nodes - 1) in m.group(1),
           "moved: no line saying where (%s)" % (m.group(1) if m else ""))

    m = re.search(r"=== bad node (\d+) (\d+) (.*?) ===", text)
    expect(m and m.group(1) != "0" and m.group(2) == "1", "bad node: %s" % (m.group(0) if m else "no line"))

    for what, needle in [("node", "the host has no node %d" % nodes), ("size", "node 0 has only")]:
        m = re.search(r"=== bad budget %s (\d+) (\d+) (.*?) ===" % what, text)
        expect(m and m.group(1) != "0" and m.group(2) == "1" and needle in m.group(3),
               "bad budget %s: %s" % (what, m.group(0) if m else "no line"))

    if failures:
        print("test-numa %d nodes: FAIL: %s" % (nodes, "; ".join(failures)))
        return 1
    print("test-numa %d nodes: ok (%s)" % (nodes, "; ".join(notes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
