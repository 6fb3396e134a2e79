// W5 GPIO edges: a second thread toggles a mock GPIO input (LoopGPIO's `SimulatedInputPort`, which
// writes v1 kernel edge records into the line's pipe and, like the kernel, drops edges while 16
// wait unread) on a fixed grid at 1, 10 and 50 kHz. sensorloop reads the line through its one
// decode path (epoll → interrupt → `InputLine.poll` → libgpiod's read → filter → queue); the C
// baseline reads the same kind of line's pipe with read() in a bare epoll loop. Reported:
// edge → task latency (from the edge's timestamp) and edges lost (driven but never seen).

import AllocCounter
import CBaseline
import Glibc
import LoopCore
import LoopGPIO
import LoopLinux

/// What the edge-driving thread owns.
struct EdgeDriver: ~Copyable {
  var port: SimulatedInputPort
  let period: Int64
  let edges: Int64
  let doneFD: Int32
}

/// Drives `edges` edges `period` apart, then signals `doneFD`.
func driveEdges(_ driver: UnsafeMutablePointer<EdgeDriver>) {
  if cb_helper_cpu() >= 0 { _ = cb_pin_thread(cb_helper_cpu()) }
  let period = driver.pointee.period
  let start = cb_now_ns() + 1_000_000
  for k in 0..<driver.pointee.edges {
    cb_wait_until(start + k * period)
    let level = !driver.pointee.port.level
    driver.pointee.port.drive(level, at: Instant(nanoseconds: cb_now_ns()))
  }
  _ = cb_eventfd_signal(driver.pointee.doneFD)
}

/// A thread running `driveEdges` on a driver it does not own (the caller joins, then frees).
func startDriver(_ driver: UnsafeMutablePointer<EdgeDriver>) -> pthread_t {
  var thread = pthread_t()
  let status = pthread_create(
    &thread, nil,
    { raw in
      // SAFETY: `raw` is the driver the starter passed; it outlives the thread (joined first).
      driveEdges(raw!.assumingMemoryBound(to: EdgeDriver.self))
      return nil
    }, UnsafeMutableRawPointer(driver))
  precondition(status == 0, "pthread_create failed")
  return thread
}

/// A requested mock input and the port that drives it.
struct MockInput: ~Copyable {
  var line: InputLine
  var port: SimulatedInputPort
}

/// A requested mock input on its own mock chip, with the port that drives it.
func mockInput(interrupt: Interrupt) -> MockInput {
  var gpio = SimulatedGPIO()
  gpio.addChip(name: "gpiochip0", label: "bench", lines: 1)
  let chip = try! gpio.openChip(path: GPIOName("/dev/gpiochip0"))
  let config = InputConfig(interrupt: interrupt, edges: .both)
  var level: Bool? = nil
  let handle = try! gpio.requestInput(offset: 0, config: config, consumer: GPIOName("bench"), level: &level)
  let source = LineSource(
    chipName: chip.name, chipLabel: chip.label, chipPath: chip.path, offset: 0, name: GPIOName("GPIO0"),
    matched: 0)
  let line = InputLine(handle, config: config, source: source, initialLevel: level)
  let port = gpio.takePort(for: line)!
  return MockInput(line: line, port: port)
}

/// The input line, where the latencies go, and the line that says the driver is done.
struct EdgeWorld: ~Copyable {
  var line: InputLine
  let done: Interrupt
  let samples: UnsafeMutablePointer<Int64>
  let capacity: Int
  /// Edges after which the steady state begins (allocations are counted from there).
  let warm: Int
  var count = 0
  var allocsAtWarm: UInt64 = 0
  var allocsAtEnd: UInt64 = 0

  mutating func record(_ event: EdgeEvent, now: Instant) {
    if count < capacity { samples[count] = (now - event.timestamp).nanoseconds }
    count += 1
    if count == 1 || count == warm { allocsAtWarm = sl_alloc_count_thread() }
  }
}

/// Takes every edge of the line as it arrives; ends once the driver is done and the line drained.
struct EdgeTask: TaskBody {
  typealias World = EdgeWorld

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout EdgeWorld)
    -> Poll<Void>
  {
    while case .ready(let event) = try! world.line.poll(&cx) { world.record(event, now: cx.now) }
    guard cx.take(world.done) else { return .pending }
    world.line.readAvailable()
    while let event = world.line.next() { world.record(event, now: cx.now) }
    world.allocsAtEnd = sl_alloc_count_thread()
    cx.stopExecutor()
    return .ready(())
  }
}

/// What one W5 segment measured.
struct EdgeSegment {
  var samples: [Int64] = []
  var edges: Int64 = 0
  var received: Int64 = 0
  var dropped: Int64 = 0
  var allocs: Int64 = 0

  /// Adds `other`'s figures to these.
  mutating func pool(_ other: EdgeSegment) {
    samples += other.samples
    edges += other.edges
    received += other.received
    dropped += other.dropped
    allocs += other.allocs
  }
}

/// One W5 segment for C: the mock line's pipe in a bare epoll loop.
func w5SegmentC(period: Int64, edges: Int64) -> EdgeSegment {
  var samples = [Int64](repeating: 0, count: Int(edges))
  let mock = mockInput(interrupt: Interrupt(0))
  let input = mock.line
  let port = mock.port
  let done = cb_eventfd()
  let driver = UnsafeMutablePointer<EdgeDriver>.allocate(capacity: 1)
  driver.initialize(to: EdgeDriver(port: port, period: period, edges: edges, doneFD: done))
  let thread = startDriver(driver)
  let before = sl_alloc_count_thread()
  let received = samples.withUnsafeMutableBufferPointer {
    cb_w5_wait(input.eventFD, done, $0.baseAddress, Int64($0.count))
  }
  let allocs = sl_alloc_count_thread() - before
  pthread_join(thread, nil)
  let dropped = driver.pointee.port.counters.kernelDropped
  driver.deinitialize(count: 1)
  driver.deallocate()
  cb_close(done)
  precondition(received >= 0, "cb_w5_wait failed")
  samples.removeLast(samples.count - min(Int(received), samples.count))
  return EdgeSegment(
    samples: samples, edges: edges, received: received, dropped: Int64(dropped), allocs: Int64(allocs))
}

/// One W5 segment for sensorloop: the line watched by the epoll platform, one task polling it.
func w5SegmentSensorloop(period: Int64, edges: Int64) -> EdgeSegment {
  let mock = mockInput(interrupt: Interrupt(0))
  let input = mock.line
  let port = mock.port
  var platform = try! EpollPlatform()
  try! platform.watch(line: input)
  let done = try! platform.makeTrigger(for: Interrupt(1))
  var executor = Executor<1, 1, EdgeTask, EpollPlatform>(platform: platform)
  try! executor.spawn(EdgeTask())
  let driver = UnsafeMutablePointer<EdgeDriver>.allocate(capacity: 1)
  driver.initialize(to: EdgeDriver(port: port, period: period, edges: edges, doneFD: done.rawValue))
  let thread = startDriver(driver)
  let buffer = UnsafeMutablePointer<Int64>.allocate(capacity: Int(edges))
  var world = EdgeWorld(
    line: input, done: done.line, samples: buffer, capacity: Int(edges), warm: min(100, Int(edges) / 10))
  _ = executor.run(&world)
  let received = world.count
  let allocs = world.allocsAtEnd &- world.allocsAtWarm
  let samples = Array(UnsafeBufferPointer(start: buffer, count: min(received, Int(edges))))
  buffer.deallocate()
  pthread_join(thread, nil)
  let dropped = driver.pointee.port.counters.kernelDropped
  driver.deinitialize(count: 1)
  driver.deallocate()
  return EdgeSegment(
    samples: samples, edges: edges, received: Int64(received), dropped: Int64(dropped),
    allocs: Int64(allocs))
}

/// The W5 lines at one edge rate, for C and sensorloop, run as `segments` interleaved segments
/// in ABBA order so both sides see the same drift in host load.
func runW5(rate: Int64, seconds: Double, segments: Int) -> [ResultLine] {
  let period = 1_000_000_000 / rate
  let each = Int64(Double(rate) * seconds) / Int64(segments)
  var c = EdgeSegment()
  var ours = EdgeSegment()
  for k in 0..<segments {
    for cFirst in (k % 2 == 0 ? [true, false] : [false, true]) {
      if cFirst {
        c.pool(w5SegmentC(period: period, edges: each))
      } else {
        ours.pool(w5SegmentSensorloop(period: period, edges: each))
      }
    }
  }
  func line(_ impl: String, _ segment: EdgeSegment) -> ResultLine {
    var samples = segment.samples
    let p = Percentiles(&samples)
    var line = ResultLine(workload: "w5-\(rate / 1000)khz", impl: impl)
    line.add("p50_us", p.p50)
    line.add("p99_us", p.p99)
    line.add("max_us", p.max)
    line.add("edges", count: segment.edges)
    line.add("lost", count: segment.edges - segment.received)
    line.add("fifo_drops", count: segment.dropped)
    line.add("allocs", count: segment.allocs)
    return line
  }
  return [line("c", c), line("sensorloop", ours)]
}

/// The W5 lines at 1, 10 and 50 kHz (2 s each in 4 segments; 0.05 s in 2 with `quick`).
func runW5(quick: Bool) -> [ResultLine] {
  var lines: [ResultLine] = []
  for rate: Int64 in [1_000, 10_000, 50_000] {
    lines += runW5(rate: rate, seconds: quick ? 0.05 : 2, segments: quick ? 2 : 4)
  }
  return lines
}
