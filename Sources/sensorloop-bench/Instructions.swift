// Instruction counts (`sensorloop-bench instructions`): W1's hop, W2's wake path and W3's tick
// path counted by callgrind for sensorloop and for C. Wall-clock ratios of a 4 ns loop swing 2-3x
// between runs on shared VMs; instruction counts are the same on every run.
//
// Each (workload, implementation) runs twice in a child process under
// `valgrind --tool=callgrind --toggle-collect=*countedRegion*`, with n and 2n units of work (hops,
// wakes, ticks). Only the code called inside `countedRegion` is counted, and the difference of
// the two counts divided by the difference of the units is the cost of one unit, without the
// setup both runs share. Valgrind 3.19 cannot read the Swift toolchain's DWARF 5, so the child is
// a copy of this executable with its debug info stripped (`strip --strip-debug`).

import AllocCounter
import CBaseline
import Glibc
import LoopCore
import LoopLinux

/// The code callgrind counts: everything `body` runs. Not inlined, so its symbol exists and
/// `--toggle-collect=*countedRegion*` finds it; outside callgrind it costs one call.
@inline(never)
func countedRegion<R>(_ body: () -> R) -> R { body() }

/// One counted case: a workload's unit of work for one implementation.
struct CountedCase {
  /// `w1`, `w2` or `w3`.
  let workload: String
  /// `c` or `sensorloop`.
  let impl: String
  /// The key of the figure, e.g. `instructions_per_hop`.
  let key: String
  /// Units of work in the smaller of the two runs (the larger runs twice as many).
  let units: Int64
}

/// The cases `instructions` counts.
let countedCases: [CountedCase] = [
  CountedCase(workload: "w1", impl: "c", key: "instructions_per_hop", units: 20_000),
  CountedCase(workload: "w1", impl: "sensorloop", key: "instructions_per_hop", units: 20_000),
  CountedCase(workload: "w2", impl: "c", key: "instructions_per_wake", units: 2_000),
  CountedCase(workload: "w2", impl: "sensorloop", key: "instructions_per_wake", units: 2_000),
  CountedCase(workload: "w3", impl: "c", key: "instructions_per_tick", units: 2_000),
  CountedCase(workload: "w3", impl: "sensorloop", key: "instructions_per_tick", units: 2_048),
]

/// The child's side (`sensorloop-bench count-child WORKLOAD IMPL N`, run under callgrind): runs
/// `n` units of work and prints `units=` with the units actually done (W3 can miss ticks).
func countChildMain(_ arguments: [String]) {
  guard arguments.count == 3, let n = Int64(arguments[2]) else {
    print("usage: sensorloop-bench count-child w1|w2|w3 c|sensorloop N")
    exit(2)
  }
  let units: Int64
  switch (arguments[0], arguments[1]) {
  case ("w1", "c"): units = runW1C(roundTrips: n / 2).value("hops").map { Int64($0) }!
  case ("w1", "sensorloop"):
    units = runW1(roundTrips: n / 2, platform: try! EpollPlatform(), impl: "sensorloop")
      .value("hops").map { Int64($0) }!
  case ("w2", "c"):
    let wakes = countedRegion { cb_w2_selfwake(n) }
    precondition(wakes == n, "cb_w2_selfwake failed")
    units = wakes
  case ("w2", "sensorloop"): units = w2SelfWake(wakes: n)
  case ("w3", "c"):
    // A 1 µs grid: every read finds the timer expired, one tick per loop turn (see below).
    units = Int64(w3SegmentC(deadlines: 50 * n, period: 1_000).samples.count)
  case ("w3", "sensorloop"): units = w3PassedTicks(ticks: n)
  default:
    print("count-child: unknown case \(arguments[0]) \(arguments[1])")
    exit(2)
  }
  print("units=\(units)")
}

/// The parent's side: counts every case under callgrind and returns one line per
/// (workload, implementation); nil (with a `#` message) when valgrind or strip is missing.
func countInstructions() -> [ResultLine]? {
  let me = executablePath()
  var buildDir = me
  while let last = buildDir.last, last != "/" { buildDir.removeLast() }
  let dir = buildDir + "instructions"
  _ = mkdir(dir, 0o755)
  let stripped = dir + "/sensorloop-bench"
  guard let strip = runChild(["/usr/bin/env", "strip", "--strip-debug", "-o", stripped, me]),
    strip.result.exit_status == 0
  else {
    print("# instructions: `strip --strip-debug` failed (binutils)")
    return nil
  }
  var lines: [ResultLine] = []
  for c in countedCases {
    var counts: [(instructions: Int64, units: Int64)] = []
    for n in [c.units, 2 * c.units] {
      let out = "\(dir)/\(c.workload)-\(c.impl)-\(n).callgrind"
      guard
        let run = runChild([
          "/usr/bin/env", "valgrind", "--tool=callgrind", "--toggle-collect=*countedRegion*",
          "--callgrind-out-file=" + out, "--log-file=" + out + ".log", stripped, "count-child",
          c.workload, c.impl, String(n),
        ]), run.result.exit_status == 0, let units = field("units", in: run.output),
        let instructions = callgrindTotal(out)
      else {
        print("# instructions: \(c.workload) \(c.impl) failed under valgrind; see \(out).log")
        return nil
      }
      counts.append((instructions, units))
    }
    let perUnit =
      Double(counts[1].instructions - counts[0].instructions) / Double(counts[1].units - counts[0].units)
    if let index = lines.firstIndex(where: { $0.workload == c.workload && $0.impl == c.impl }) {
      lines[index].add(c.key, perUnit)
    } else {
      var line = ResultLine(workload: c.workload, impl: c.impl)
      line.add(c.key, perUnit)
      lines.append(line)
    }
  }
  return lines
}

/// The instruction count callgrind collected (the `totals:` line of its output file).
func callgrindTotal(_ path: String) -> Int64? {
  guard let file = fopen(path, "r") else { return nil }
  defer { fclose(file) }
  var buffer = [CChar](repeating: 0, count: 4096)
  var total: Int64? = nil
  while fgets(&buffer, Int32(buffer.count), file) != nil {
    let line = String(
      decoding: buffer.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    if line.hasPrefix("totals: ") { total = Int64(line.dropFirst(8)) }
  }
  return total
}

/// Adds the figures of `extra` to the line of the same workload and implementation in `lines`
/// (or appends the line), so each (workload, implementation) is printed once.
func merge(_ extra: [ResultLine], into lines: inout [ResultLine]) {
  for line in extra {
    if let index = lines.firstIndex(where: { $0.workload == line.workload && $0.impl == line.impl }) {
      lines[index].figures += line.figures
    } else {
      lines.append(line)
    }
  }
}

// ---- W2's wake path, counted ----------------------------------------------------------------
// W2's writer is a second thread; callgrind runs threads one at a time and would count it too. So
// the counted wake path has the loop thread write the eventfd itself at the end of each wake:
// epoll_wait → eventfd read → (sensorloop: interrupt line → task poll) → clock read → write. The
// C loop (`cb_w2_selfwake`) does the same.

/// The trigger the task writes, and the interval sum it records like W2's latency.
struct SelfWakeWorld {
  let trigger: InterruptTrigger
  let limit: Int64
  var wakes: Int64 = 0
  var last: Int64 = 0
  var sum: Int64 = 0
}

/// Waits for its line, reads the clock, records the time since the previous wake, writes the
/// eventfd again.
struct SelfWakeTask: TaskBody {
  typealias World = SelfWakeWorld

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout SelfWakeWorld)
    -> Poll<Void>
  {
    while cx.take(world.trigger.line) {
      let now = cx.now.nanoseconds
      world.sum &+= now &- world.last
      world.last = now
      world.wakes += 1
      if world.wakes >= world.limit {
        cx.stopExecutor()
        return .ready(())
      }
      world.trigger.raise()
    }
    return .pending
  }
}

/// `wakes` wakes of W2's path through the epoll platform; returns the wakes done.
func w2SelfWake(wakes: Int64) -> Int64 {
  var platform = try! EpollPlatform()
  let trigger = try! platform.makeTrigger(for: Interrupt(0))
  var executor = Executor<1, 1, SelfWakeTask, EpollPlatform>(platform: platform)
  try! executor.spawn(SelfWakeTask())
  var world = SelfWakeWorld(trigger: trigger, limit: wakes)
  world.last = cb_now_ns()
  trigger.raise()
  _ = countedRegion { executor.run(&world) }
  return world.wakes
}

// ---- W3's tick path, counted ----------------------------------------------------------------
// At 1 kHz under callgrind (about 50 times slower than native) ticks are missed as the host
// allows, and a missed tick takes other branches: the count would differ from run to run. So the
// counted tick path uses deadlines that have always passed when the loop arms them. The path is
// W3's: the task's poll reads the ticker and asks for its next deadline, the run loop arms the
// timerfd, epoll_wait returns with it, the expiration is read, the due timer wakes the task. Only
// the wait inside epoll_wait is gone, which callgrind does not count anyway. C: the periodic
// timerfd of `cb_w3_ticker` on a 1 µs grid, so every loop turn reads it expired and handles
// one tick (its units are the turns, however many grid points each skips).

/// The ticks to run and the lateness sum recorded like W3's samples.
struct PassedTickWorld {
  let limit: Int64
  var ticks: Int64 = 0
  var sum: Int64 = 0
}

/// A ticker on a 1 ns grid, polled once per task poll: each poll delivers one tick and asks for
/// the next grid point, which has passed by the time the loop arms the timerfd.
struct PassedTickTask: TaskBody {
  typealias World = PassedTickWorld
  var ticker: Ticker

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout PassedTickWorld)
    -> Poll<Void>
  {
    if case .ready(let tick) = try! ticker.poll(&cx) {
      world.sum &+= tick.lateness.nanoseconds
      world.ticks += 1
      if world.ticks >= world.limit {
        cx.stopExecutor()
        return .ready(())
      }
      try! cx.wake(at: ticker.next)
    }
    return .pending
  }
}

/// `ticks` ticks of W3's path with passed deadlines; returns the ticks done.
func w3PassedTicks(ticks: Int64) -> Int64 {
  let platform = try! EpollPlatform()
  var executor = Executor<1, 1, PassedTickTask, EpollPlatform>(platform: platform)
  let start = Instant(nanoseconds: cb_now_ns())
  try! executor.spawn(PassedTickTask(ticker: Ticker(period: .nanoseconds(1), first: start)))
  var world = PassedTickWorld(limit: ticks)
  _ = countedRegion { executor.run(&world) }
  return world.ticks
}
