// The mock GPIO path under the real epoll platform: the stimulus driver writes kernel-format
// records into the line's pipe on real time, epoll (edge-triggered) raises the line's interrupt,
// and the reader task takes every edge with its scheduled timestamp. Correctness is asserted
// as an accounting identity (every scheduled edge is delivered or counted as dropped), never as
// a timing; the allocation test proves the steady state allocates nothing.

import AllocCounter
import Foundation
import LoopCore
import LoopGPIO
import LoopLinux
import Testing

typealias EpollExecutor = Executor<4, 8, EdgeTask, EpollPlatform>

/// What one run through the epoll path produced.
struct EdgeRun {
  var scheduled: Int64
  var counters: LineCounters
  var port: SimulatedPortCounters
  var elapsed: Duration
  var seen: [Seen]
  var latencies: [Int64]
  var allocations: UInt64?
  var driverWakes: UInt64
}

/// Runs a pulse train of `edges` edges at `rate` edges per second (both edges of a square
/// wave at rate/2) through the epoll platform, the stimulus driver running as a task.
/// `measure`: record latencies instead of events (no allocation on the event path), and
/// count the reader thread's allocations after `warmUp` edges.
func runThroughEpoll(
  rate: Int64, edges: Int64, granularity: Duration = .zero, measure: Bool = false, warmUp: Int = 0
) throws -> EdgeRun {
  var mock = pi4()
  var world = EdgeWorld()
  let port = try addInput(&mock, &world, "GPIO17", interrupt: 8)
  var executor = EpollExecutor(platform: try EpollPlatform())
  try executor.platform.watch(world.eventFD(0), as: Interrupt(8), for: .readable)
  world.driver.granularity = granularity
  let start = monotonicNow() + .milliseconds(5)
  try world.driver.schedule(
    .pulses(port: port, start: start, hertz: rate / 2, dutyPercent: 50, count: edges / 2))
  let span = Duration(nanoseconds: edges * 1_000_000_000 / rate)
  let buffer = UnsafeMutableBufferPointer<Int64>.allocate(capacity: Int(edges))
  defer { buffer.deallocate() }
  if measure { world.latencies = buffer } else { world.seen.reserveCapacity(Int(edges)) }
  try executor.spawn(.reader)
  try executor.spawn(.driver)
  try executor.spawn(.stopper(at: start + span + .milliseconds(50)))
  // Allocation window: from the warm-up edge to the end of the run, counted by the reader's
  // thread (this one: the executor runs here).
  world.stopAfter = Int(edges)
  var allocations: UInt64?
  if measure && warmUp > 0 {
    world.stopAfter = warmUp
    _ = executor.run(&world)
    world.stopAfter = Int(edges)
    let before = sl_alloc_count_thread()
    _ = executor.run(&world)
    allocations = sl_alloc_count_thread() - before
  } else {
    _ = executor.run(&world)
  }
  let elapsed = monotonicNow() - start
  let taken = min(world.taken, Int(edges))
  return EdgeRun(
    scheduled: edges, counters: world.counters(0), port: world.driver.counters(port), elapsed: elapsed,
    seen: world.seen, latencies: measure ? Array(buffer[0..<taken]) : [], allocations: allocations,
    driverWakes: world.driver.deliveries)
}

/// A mock port another thread drives.
final class PortBox: @unchecked Sendable {
  var port: SimulatedInputPort?
  init(_ port: consuming SimulatedInputPort) { self.port = .some(port) }
}

/// As `runThroughEpoll`, but a second thread writes each edge when it is due (spinning on the
/// monotonic clock), as an interrupt on another core would: the latency is then the decode
/// path's own (pipe write, epoll, task), without the driver task's timer lateness. With
/// `saturate`, the thread writes edges back to back (16 per write, stamped when written) for
/// `edges / rate` seconds: what the loop takes of that is its throughput.
func runWithWriterThread(rate: Int64, edges: Int64, saturate: Bool = false) throws -> EdgeRun {
  var mock = pi4()
  var world = EdgeWorld()
  let line = try mock.requestInput(LineSelector("GPIO17"), on: header, InputConfig(interrupt: Interrupt(8)))
  let box = PortBox(mock.takePort(for: line)!)
  _ = world.add(line)
  var executor = EpollExecutor(platform: try EpollPlatform())
  try executor.platform.watch(world.eventFD(0), as: Interrupt(8), for: .readable)
  let start = monotonicNow() + .milliseconds(20)
  let end = start + Duration(nanoseconds: edges * 1_000_000_000 / rate)
  let capacity = saturate ? 4_000_000 : Int(edges)
  let buffer = UnsafeMutableBufferPointer<Int64>.allocate(capacity: capacity)
  defer { buffer.deallocate() }
  world.latencies = buffer
  world.stopAfter = saturate ? Int.max : Int(edges)
  try executor.spawn(.reader)
  try executor.spawn(.stopper(at: end + .milliseconds(50)))
  let writer = Thread {
    if saturate {
      while monotonicNow() < start {}
      var high = false
      var now = start
      while now < end {
        for _ in 0..<16 {
          high.toggle()
          box.port!.queue(high, at: now)
        }
        box.port!.flush()
        now = monotonicNow()
      }
      return
    }
    for k in 0..<edges {
      let due = start + Duration(nanoseconds: k * 1_000_000_000 / rate)
      while monotonicNow() < due {}
      box.port!.drive(k % 2 == 0, at: due)
    }
  }
  writer.start()
  _ = executor.run(&world)
  while !writer.isFinished { Thread.sleep(forTimeInterval: 0.001) }
  let taken = min(world.taken, capacity)
  let port = box.port?.counters ?? SimulatedPortCounters()
  return EdgeRun(
    scheduled: saturate ? Int64(port.transitions) : edges, counters: world.counters(0), port: port,
    elapsed: end - start, seen: [], latencies: Array(buffer[0..<taken]), allocations: nil, driverWakes: 0)
}

/// The `p`-th percentile of `values` (nearest rank), in microseconds.
func percentileMicroseconds(_ values: [Int64], _ p: Double) -> Double {
  guard !values.isEmpty else { return .nan }
  let sorted = values.sorted()
  let rank = min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
  return Double(sorted[rank]) / 1000
}

@Suite(.serialized) struct EpollPathTests {
  /// Every edge is delivered with its exact scheduled timestamp or counted as dropped; when
  /// nothing was dropped the sequence is exact and no edge is lost.
  @Test func edgesArriveThroughEpollWithTheirTimestamps() throws {
    let run = try runThroughEpoll(rate: 1000, edges: 200)
    let c = run.counters
    #expect(UInt64(run.scheduled) == c.delivered + c.overflowed + run.port.kernelDropped)
    #expect(c.readErrors == 0)
    #expect(run.port.writeErrors == 0)
    if run.port.kernelDropped == 0 && c.overflowed == 0 {
      #expect(c.lost == 0)
      let first = run.seen.first!.event.timestamp
      for (k, seen) in run.seen.enumerated() {
        #expect(seen.event.edge == (k % 2 == 0 ? .rising : .falling))
        #expect(seen.event.timestamp - first == Duration(nanoseconds: Int64(k) * 1_000_000))
      }
    }
  }

  /// Once warmed up, the whole loop (timer, driver writes, epoll, decode, filter, queue, task)
  /// allocates nothing.
  @Test(.enabled(if: sl_alloc_counter_active() != 0)) func steadyStateAllocatesNothing() throws {
    let run = try runThroughEpoll(rate: 10_000, edges: 2000, measure: true, warmUp: 100)
    #expect(run.allocations == 0)
    #expect(run.counters.delivered > 100)
  }

  /// Edge rates through the mock path, printed for the benchmark owner; only the accounting
  /// is asserted. Release numbers (GPIO_RATE_SECONDS sets the run per rate, default 0.3):
  ///   swift build -c release --product sensorloopPackageTests -Xswiftc -enable-testing
  ///   GPIO_RATE_SECONDS=1 swift test --skip-build -c release --filter LoopGPIOTests.EpollPathTests
  @Test func edgeRates() throws {
    let seconds = ProcessInfo.processInfo.environment["GPIO_RATE_SECONDS"].flatMap(Double.init) ?? 0.3
    print("gpio-rate: mode=driver-task edges through EpollPlatform, \(seconds) s per rate")
    for rate: Int64 in [1000, 10_000, 50_000] {
      let edges = Int64(Double(rate) * seconds) & ~1
      let run = try runThroughEpoll(rate: rate, edges: edges, measure: true)
      let c = run.counters
      #expect(UInt64(edges) == c.delivered + c.overflowed + run.port.kernelDropped)
      let handled = Double(c.delivered) / (Double(run.elapsed.nanoseconds) / 1e9)
      print(
        "workload=w5 impl=sensorloop-mock rate_hz=\(rate) edges=\(edges) delivered=\(c.delivered)"
          + " kernel_dropped=\(run.port.kernelDropped) overflowed=\(c.overflowed) lost=\(c.lost)"
          + " p50_us=\(percentileMicroseconds(run.latencies, 50)) p99_us=\(percentileMicroseconds(run.latencies, 99))"
          + " max_us=\(percentileMicroseconds(run.latencies, 100)) reads=\(c.reads) driver_wakes=\(run.driverWakes)"
          + " handled_per_s=\(Int(handled))")
    }
    print("gpio-rate: mode=writer-thread (each edge written when due by a second thread)")
    for rate: Int64 in [1000, 10_000, 50_000] {
      let edges = Int64(Double(rate) * seconds) & ~1
      let run = try runWithWriterThread(rate: rate, edges: edges)
      let c = run.counters
      #expect(UInt64(edges) == c.delivered + c.overflowed + run.port.kernelDropped)
      print(
        "workload=w5-thread impl=sensorloop-mock rate_hz=\(rate) edges=\(edges) delivered=\(c.delivered)"
          + " kernel_dropped=\(run.port.kernelDropped) overflowed=\(c.overflowed) lost=\(c.lost)"
          + " p50_us=\(percentileMicroseconds(run.latencies, 50)) p99_us=\(percentileMicroseconds(run.latencies, 99))"
          + " max_us=\(percentileMicroseconds(run.latencies, 100)) reads=\(c.reads)")
    }
    // Saturation: the writer thread writes edges back to back; the emulated FIFO keeps 16
    // unread at most and drops the rest (counted). Edges per second handled is what the loop
    // takes out of that.
    let run = try runWithWriterThread(rate: 1000, edges: Int64(1000 * seconds), saturate: true)
    let c = run.counters
    #expect(UInt64(run.scheduled) == c.delivered + c.overflowed + run.port.kernelDropped)
    let handled = Double(c.delivered) / (Double(run.elapsed.nanoseconds) / 1e9)
    print(
      "workload=w5-saturation impl=sensorloop-mock written=\(run.port.eventsWritten) delivered=\(c.delivered)"
        + " kernel_dropped=\(run.port.kernelDropped) reads=\(c.reads)"
        + " events_per_read=\(Double(c.delivered) / Double(max(c.reads, 1)))"
        + " p50_us=\(percentileMicroseconds(run.latencies, 50)) handled_per_s=\(Int(handled))")
  }
}
