// W3's tail, diagnosed (`sensorloop-bench w3-tail`): are sensorloop's late ticks its own, or the
// host's? Both implementations tick at 1 kHz at the same time, on the same CPU, on grids half a
// period apart: the C loop on a thread of its own (`cb_w3_tail_start`), sensorloop's `Ticker` task
// on the measuring thread. Every tick's deadline and delivery time is recorded. A stall of a
// millisecond or more covers a deadline of the other side's grid too, so when the CPU was taken
// from both threads (the host, other processes), the other side is late over the same span; a
// stall of sensorloop's own making (its timer path waking late) leaves the C thread on time.

import CBaseline
import LoopCore
import LoopLinux

/// Where the diagnosed ticker records each tick, and when to stop.
struct StampedTickerWorld {
  let deadlines: UnsafeMutablePointer<Int64>
  let delivered: UnsafeMutablePointer<Int64>
  let count: Int64
  var ticks = 0
}

/// W3's ticker task, recording each tick's deadline (the oldest it covers) and delivery time.
struct StampedTickerTask: TaskBody {
  typealias World = StampedTickerWorld
  var ticker: Ticker

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout StampedTickerWorld)
    -> Poll<Void>
  {
    while case .ready(let tick) = try! ticker.poll(&cx) {
      world.deadlines[world.ticks] = tick.scheduled.nanoseconds
      world.delivered[world.ticks] = (tick.scheduled + tick.lateness).nanoseconds
      world.ticks += 1
      if Int64(ticker.delivered + ticker.missed) >= world.count {
        cx.stopExecutor()
        return .ready(())
      }
    }
    return .pending
  }
}

/// One side's recorded ticks: deadline and delivery time (ns, CLOCK_MONOTONIC) of each.
struct StampedTicks {
  var deadlines: [Int64]
  var delivered: [Int64]

  /// The first delivery at or after `time` (a tick that covers a deadline at `time` is
  /// delivered then at the earliest), or nil.
  func firstDelivery(atOrAfter time: Int64) -> Int64? {
    var low = 0
    var high = delivered.count
    while low < high {
      let mid = (low + high) / 2
      if delivered[mid] < time { low = mid + 1 } else { high = mid }
    }
    return low < delivered.count ? delivered[low] : nil
  }
}

/// The diagnosis of one side's late ticks against the other side's.
func tailLine(_ impl: String, _ mine: StampedTicks, other: StampedTicks, period: Int64) -> ResultLine {
  let threshold = period  // late by a period or more: the other grid has a deadline inside
  let slack = period / 4
  var late = 0
  var shared = 0
  var idleBefore = 0
  var maxLateness: Int64 = 0
  var maxUnshared: Int64 = 0
  for i in mine.delivered.indices {
    let lateness = mine.delivered[i] - mine.deadlines[i]
    maxLateness = max(maxLateness, lateness)
    guard lateness >= threshold else { continue }
    late += 1
    // The loop had finished its previous tick well before this deadline: it was waiting in
    // epoll_wait when the deadline passed, so nothing of its own was running.
    if i > 0 && mine.delivered[i - 1] + period / 10 < mine.deadlines[i] { idleBefore += 1 }
    // The other side's first deadline inside this stall, and when it was delivered.
    let d = mine.deadlines[i]
    guard let first = other.deadlines.first, let last = other.delivered.last, d >= first, d < last
    else { continue }
    let phase = (d - first) % period
    let otherDeadline = phase == 0 ? d : d - phase + period
    if let otherDelivery = other.firstDelivery(atOrAfter: otherDeadline),
      otherDelivery >= mine.delivered[i] - slack
    {
      shared += 1
    } else {
      maxUnshared = max(maxUnshared, lateness)
    }
  }
  var samples = zip(mine.delivered, mine.deadlines).map { $0 - $1 }
  let p = Percentiles(&samples)
  var line = ResultLine(workload: "w3-tail", impl: impl)
  line.add("ticks", count: Int64(mine.delivered.count))
  line.add("p50_us", p.p50)
  line.add("p99_us", p.p99)
  line.add("late_ge_period", count: Int64(late))
  line.add("shared", count: Int64(shared))
  line.add("idle_before", count: Int64(idleBefore))
  line.add("max_us", Double(maxLateness) / 1_000)
  line.add("max_unshared_us", Double(maxUnshared) / 1_000)
  return line
}

/// Runs both tickers at once on the measuring thread's CPU for `deadlines` grid points each.
func runW3Tail(deadlines: Int64, period: Int64) -> [ResultLine] {
  let cpu = pinning ? cb_cpu_at(1) : -1
  let start = cb_now_ns() + 20_000_000
  var cDeadlines = [Int64](repeating: 0, count: Int(deadlines))
  var cDelivered = [Int64](repeating: 0, count: Int(deadlines))
  var slDeadlines = [Int64](repeating: 0, count: Int(deadlines))
  var slDelivered = [Int64](repeating: 0, count: Int(deadlines))
  var cTicks: Int64 = 0
  var slTicks = 0
  cDeadlines.withUnsafeMutableBufferPointer { cd in
    cDelivered.withUnsafeMutableBufferPointer { cv in
      // The C loop's grid is half a period after sensorloop's.
      let thread = cb_w3_tail_start(
        Int32(cpu), start + period + period / 2, period, deadlines, cd.baseAddress, cv.baseAddress)
      precondition(thread != nil, "cb_w3_tail_start failed")
      slDeadlines.withUnsafeMutableBufferPointer { sd in
        slDelivered.withUnsafeMutableBufferPointer { sv in
          let platform = try! EpollPlatform()
          var executor = Executor<1, 1, StampedTickerTask, EpollPlatform>(platform: platform)
          let first = Instant(nanoseconds: start + period)
          try! executor.spawn(StampedTickerTask(ticker: Ticker(period: .nanoseconds(period), first: first)))
          var world = StampedTickerWorld(
            deadlines: sd.baseAddress!, delivered: sv.baseAddress!, count: deadlines)
          _ = executor.run(&world)
          slTicks = world.ticks
        }
      }
      cTicks = cb_w3_tail_join(thread)
      precondition(cTicks >= 0, "cb_w3_tail_join failed")
    }
  }
  let c = StampedTicks(
    deadlines: Array(cDeadlines.prefix(Int(cTicks))), delivered: Array(cDelivered.prefix(Int(cTicks))))
  let sl = StampedTicks(
    deadlines: Array(slDeadlines.prefix(slTicks)), delivered: Array(slDelivered.prefix(slTicks)))
  return [
    tailLine("c", c, other: sl, period: period), tailLine("sensorloop", sl, other: c, period: period),
  ]
}
