// The mock backend through the one decode path, on a virtual clock: records written in the
// kernel's format into a pipe, read back by libgpiod, filtered, queued and taken by a task.
// The test raises the line's interrupt by hand where epoll would (EpollPathTests does it for
// real); every timestamp is exact.

import GPIOTestSupport
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTesting
import Testing

typealias VirtualExecutor = Executor<4, 4, EdgeTask, VirtualPlatform>

@Suite struct MockPathTests {
  /// One edge arrives with the timestamp it was driven at, and the task takes it.
  @Test func singleEdgeKeepsItsTimestamp() throws {
    var mock = pi4()
    var world = EdgeWorld()
    let port = try addInput(&mock, &world, "GPIO17", interrupt: 8)
    #expect(world.source(0).offset == 17)
    #expect(world.initialLevel(0) == false)
    var executor = VirtualExecutor(platform: VirtualPlatform(start: ms(10)))
    try executor.spawn(.reader)
    executor.runUntilStalled(&world)
    #expect(world.seen.isEmpty)

    world.driver.deliver(upTo: ms(10))  // nothing scheduled: nothing written
    try world.driver.schedule(.level(port: port, at: us(10_500), high: true))
    world.driver.deliver(upTo: ms(11))
    executor.platform.raise(Interrupt(8))
    executor.runUntilStalled(&world)
    #expect(world.seen.map(\.description) == ["0:R@10500000"])
    #expect(world.counters(0).delivered == 1)
    #expect(world.counters(0).reads == 1)
  }

  /// A pulse train delivered late in one go keeps every scheduled timestamp and alternates.
  @Test func bothEdgeSequenceIsExact() throws {
    var mock = pi4()
    var world = EdgeWorld()
    let port = try addInput(&mock, &world, "GPIO27", interrupt: 9)
    var executor = VirtualExecutor(platform: VirtualPlatform())
    try executor.spawn(.reader)
    // 4 pulses at 1 kHz, 25 % duty: rises at 0, 1, 2, 3 ms, falls 250 µs later.
    try world.driver.schedule(.pulses(port: port, start: ms(0), hertz: 1000, dutyPercent: 25, count: 4))
    #expect(world.driver.deliver(upTo: us(1100)) == us(1250))  // three transitions so far
    executor.platform.raise(Interrupt(9))
    executor.runUntilStalled(&world)
    #expect(world.driver.deliver(upTo: ms(100)) == nil)
    executor.platform.raise(Interrupt(9))
    executor.runUntilStalled(&world)
    #expect(
      world.seen.map(\.description) == [
        "0:R@0", "0:F@250000", "0:R@1000000", "0:F@1250000", "0:R@2000000", "0:F@2250000",
        "0:R@3000000", "0:F@3250000",
      ])
    #expect(world.counters(0).lost == 0)
    #expect(world.driver.counters(port).eventsWritten == 8)
  }

  /// Active-low: the kernel reports logical edges, so a physical fall is a rising event. A
  /// pull-up makes the idle physical level high (logical low).
  @Test func activeLowInvertsEdges() throws {
    var mock = pi4()
    var world = EdgeWorld()
    let port = try addInput(&mock, &world, "GPIO5", interrupt: 8, bias: .pullUp, activeLow: true)
    #expect(world.driver.level(port) == true)
    #expect(world.initialLevel(0) == false)
    var executor = VirtualExecutor(platform: VirtualPlatform())
    try executor.spawn(.reader)
    // The button pulls the pin low (pressed), then lets it go.
    try world.driver.schedule(.level(port: port, at: ms(1), high: false))
    try world.driver.schedule(.level(port: port, at: ms(2), high: true))
    world.driver.deliver(upTo: ms(5))
    executor.platform.raise(Interrupt(8))
    executor.runUntilStalled(&world)
    #expect(world.seen.map(\.description) == ["0:R@1000000", "0:F@2000000"])
  }

  /// A rising-only active-low line reports only physical falls.
  @Test func edgeSelectionAppliesToLogicalEdges() throws {
    var mock = pi4()
    var world = EdgeWorld()
    let port = try addInput(
      &mock, &world, "GPIO6", interrupt: 8, edges: .rising, bias: .pullUp, activeLow: true)
    var executor = VirtualExecutor(platform: VirtualPlatform())
    try executor.spawn(.reader)
    try world.driver.schedule(.pulses(port: port, start: ms(1), hertz: 1000, dutyPercent: 50, count: 3))
    world.driver.deliver(upTo: ms(10))
    executor.platform.raise(Interrupt(8))
    executor.runUntilStalled(&world)
    // The pin idles high, so each pulse pulls it low (a logical rise, reported) and lets it
    // back up half a period later (a logical fall, not requested).
    #expect(world.seen.map(\.description) == ["0:R@1000000", "0:R@2000000", "0:R@3000000"])
    #expect(world.driver.counters(port).transitions == 6)
  }

  /// A bouncing button through the whole path gives one press; a short press that ends inside
  /// the window is released by the settle timer the line arms, stamped when it fell.
  @Test func debounceThroughTheLine() throws {
    var mock = pi4()
    var world = EdgeWorld()
    let port = try addInput(&mock, &world, "GPIO22", interrupt: 10, debounce: .milliseconds(5))
    var executor = VirtualExecutor(platform: VirtualPlatform())
    try executor.spawn(.reader)
    // Press with 3 bounces 200 µs apart from 1 ms, settling high at 2.2 ms.
    try world.driver.schedule(
      .bounce(port: port, start: ms(1), high: true, bounces: 3, spacing: .microseconds(200)))
    world.driver.deliver(upTo: ms(3))
    executor.platform.time = ms(3)
    executor.platform.raise(Interrupt(10))
    executor.runUntilStalled(&world)
    #expect(world.seen.map(\.description) == ["0:R@1000000"])
    #expect(world.counters(0).debouncedAway == 6)
    // A short release and press again inside a window: held, then settled high (no event).
    try world.driver.schedule(.level(port: port, at: ms(100), high: false))
    world.driver.deliver(upTo: ms(100))
    executor.platform.time = ms(100)
    executor.platform.raise(Interrupt(10))
    executor.runUntilStalled(&world)
    #expect(world.seen.map(\.description) == ["0:R@1000000", "0:F@100000000"])
    try world.driver.schedule(.level(port: port, at: ms(101), high: true))
    try world.driver.schedule(.level(port: port, at: ms(102), high: false))
    world.driver.deliver(upTo: ms(102))
    executor.platform.time = ms(102)
    executor.platform.raise(Interrupt(10))
    executor.runUntilStalled(&world)
    // The rise at 101 ms is within 5 ms of the fall at 100 ms: held; the fall at 102 leaves
    // the line low as reported. Nothing new, and no timer is needed.
    #expect(world.seen.count == 2)
    #expect(executor.nextDeadline == nil)
    // A press shorter than the window: the rise passes, the fall is held and a timer is armed.
    try world.driver.schedule(.level(port: port, at: ms(200), high: true))
    try world.driver.schedule(.level(port: port, at: ms(201), high: false))
    world.driver.deliver(upTo: ms(201))
    executor.platform.time = ms(201)
    executor.platform.raise(Interrupt(10))
    executor.runUntilStalled(&world)
    #expect(world.seen.last?.description == "0:R@200000000")
    #expect(executor.nextDeadline == ms(206))
    // Just before the deadline nothing happens; at it the task wakes and reports the release.
    executor.platform.time = ms(206) - .nanoseconds(1)
    executor.runUntilStalled(&world)
    #expect(world.seen.count == 3)
    executor.platform.time = ms(206)
    executor.runUntilStalled(&world)
    #expect(world.seen.last?.description == "0:F@201000000")
    #expect(world.seen.count == 4)
  }

  /// A quadrature sequence on two lines: A leads forward, B leads in reverse.
  @Test func quadratureSequence() throws {
    var mock = pi4()
    var world = EdgeWorld()
    let a = try addInput(&mock, &world, "GPIO23", interrupt: 8)
    let b = try addInput(&mock, &world, "GPIO24", interrupt: 9)
    var executor = VirtualExecutor(platform: VirtualPlatform())
    try executor.spawn(.reader)
    try world.driver.schedule(.quadrature(a: a, b: b, start: ms(0), stepsPerSecond: 1000, steps: 4))
    try world.driver.schedule(.quadrature(a: a, b: b, start: ms(10), stepsPerSecond: 1000, steps: -4))
    world.driver.deliver(upTo: ms(20))
    executor.platform.raise(Interrupt(8))
    executor.platform.raise(Interrupt(9))
    executor.runUntilStalled(&world)
    // The reader drains line 0 before line 1, so sort by time to see the interleaving.
    let order = world.seen.sorted { $0.event.timestamp < $1.event.timestamp }.map(\.description)
    #expect(
      order == [
        "0:R@0", "1:R@1000000", "0:F@2000000", "1:F@3000000",
        "1:R@10000000", "0:R@11000000", "1:F@12000000", "0:F@13000000",
      ])
    let finished = world.driver.isFinished
    #expect(finished)
  }

  /// Events beyond the line's queue are dropped and counted, never silently.
  @Test func perLineOverflowIsCounted() throws {
    var mock = pi4()
    var world = EdgeWorld()
    let port = try addInput(&mock, &world, "GPIO4", interrupt: 8)
    // Three kernel FIFOs' worth, each read before the next is written: 48 events into a
    // 32-event queue nobody takes from.
    var time: Int64 = 0
    for _ in 0..<3 {
      try world.driver.schedule(
        .pulses(port: port, start: us(time), hertz: 100_000, dutyPercent: 50, count: 8))
      time += 1000
      world.driver.deliver(upTo: us(time))
      world.lines[0]!.readAvailable()
    }
    #expect(world.driver.counters(port).kernelDropped == 0)
    #expect(world.counters(0).edges == 48)
    #expect(world.queued(0) == EdgeQueue.capacity)
    #expect(world.counters(0).overflowed == 16)
    // The queue kept the oldest 32.
    var last: EdgeEvent?
    while let event = world.lines[0]!.next() { last = event }
    #expect(last == EdgeEvent(.falling, at: us(1075)))
  }

  /// The emulated kernel FIFO holds 16 unread events and drops the newest; the gap shows as a
  /// lost edge (two falls in a row) once the line is read.
  @Test func kernelFIFOOverflowShowsAsLostEdge() throws {
    var mock = pi4()
    var world = EdgeWorld()
    let port = try addInput(&mock, &world, "GPIO13", interrupt: 8)
    var executor = VirtualExecutor(platform: VirtualPlatform())
    try executor.spawn(.reader)
    // 17 edges while nobody reads: the 17th (a rise) is dropped.
    try world.driver.schedule(.pulses(port: port, start: ms(0), hertz: 1000, dutyPercent: 50, count: 9))
    world.driver.deliver(upTo: ms(8))
    #expect(world.driver.counters(port).kernelDropped == 1)
    #expect(world.driver.counters(port).eventsWritten == 16)
    world.driver.deliver(upTo: ms(9))  // the last fall: there is room again only after a read
    #expect(world.driver.counters(port).kernelDropped == 2)
    executor.platform.raise(Interrupt(8))
    executor.runUntilStalled(&world)
    #expect(world.seen.count == 16)
    // Now the reader keeps up: the next fall follows the last fall read.
    try world.driver.schedule(.level(port: port, at: ms(20), high: false))
    try world.driver.schedule(.level(port: port, at: ms(21), high: true))
    try world.driver.schedule(.level(port: port, at: ms(22), high: false))
    world.driver.deliver(upTo: ms(30))
    executor.platform.raise(Interrupt(8))
    executor.runUntilStalled(&world)
    // The level was already low (the port tracks the pin), so 20 ms is no edge; 21 ms rises
    // after a fall: consistent. The dropped rise at 8 ms and fall at 8.5 ms were an even
    // number: invisible to the sequence check, visible in the port's counter.
    #expect(world.counters(0).lost == 0)
    // An odd number dropped is visible: two falls meet.
    try world.driver.schedule(.pulses(port: port, start: ms(40), hertz: 1000, dutyPercent: 50, count: 9))
    world.driver.deliver(upTo: ms(48))  // 17 edges, the 17th (the rise at 48 ms) dropped
    #expect(world.driver.counters(port).kernelDropped == 3)
    executor.platform.raise(Interrupt(8))
    executor.runUntilStalled(&world)
    world.driver.deliver(upTo: ms(60))  // the fall at 48.5 ms lands behind the fall at 47.5 ms
    executor.platform.raise(Interrupt(8))
    executor.runUntilStalled(&world)
    #expect(world.counters(0).lost == 1)
  }

  /// Outputs of a mock that records them: the initial value, set, toggle and an unchanged set,
  /// each change in the port with its time; active-low gives the inverted pin level. Without
  /// `recordsOutputs` an output has no port.
  @Test func outputsAreRecorded() throws {
    var mock = pi4()
    let quiet = try mock.requestOutput(LineSelector("GPIO5"), on: header, OutputConfig(), at: ms(0))
    let noPort = mock.takeOutputPort(for: quiet) == nil
    #expect(noPort)
    mock.recordsOutputs = true
    var led = try mock.requestOutput(
      LineSelector("GPIO18"), on: header, OutputConfig(initial: false), at: ms(0))
    let isSimulated = led.isSimulated
    #expect(isSimulated)
    let ledPort = mock.takeOutputPort(for: led)!
    try led.set(true, at: ms(1))
    try led.toggle(at: ms(2))
    try led.set(false, at: ms(3))  // no change: not recorded
    #expect(try led.read() == false)
    #expect(
      ledPort.changes() == [
        OutputChange(time: ms(0), value: false, level: false),
        OutputChange(time: ms(1), value: true, level: true),
        OutputChange(time: ms(2), value: false, level: false),
      ])

    var relay = try mock.requestOutput(
      LineSelector("GPIO26"), on: header, OutputConfig(initial: true, drive: .openDrain, activeLow: true),
      at: ms(0))
    let relayPort = mock.takeOutputPort(for: relay)!
    #expect(relayPort.nextChange() == OutputChange(time: ms(0), value: true, level: false))
    for i in 1...100 { try relay.toggle(at: ms(Int64(i))) }
    let changes = relayPort.changes()
    #expect(changes.count == 100)
    #expect(changes.map(\.time) == (1...100).map { ms(Int64($0)) })
    #expect(changes.last == OutputChange(time: ms(100), value: true, level: false))
    #expect(relayPort.nextChange() == nil)
  }
}
