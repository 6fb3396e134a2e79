// Traces of the building blocks tasks are written with: Ticker (each missed-tick policy),
// Signal, Channel (full and empty), select/join, Timeout (firing and not firing). Time moves
// only through the virtual platform; every expectation is an exact trace.

import LoopCore
import LoopTesting
import Testing

/// Shared state of the building-block tests: the trace and the primitives under test.
struct BlockWorld: ~Copyable {
  var trace: [String] = []
  var signal = Signal<Int>()
  var notify = Signal<Void>()
  var channel = Channel<2, Int>()
  var received: [Int] = []

  mutating func log<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ event: String) {
    trace.append("\(cx.now.nanoseconds / 1_000_000)ms \(event)")
  }
}

/// One scripted behaviour per case.
enum BlockTask: TaskBody {
  typealias World = BlockWorld

  /// Ticks `count` times, doing `work` of virtual time inside the poll that handles tick `stallAt`.
  case ticker(Ticker, count: Int, stallAt: Int, stall: Duration)
  /// Waits for `world.signal` `count` times.
  case signalWaiter(count: Int)
  /// Sends `values` into the channel, waiting while it is full.
  case producer(values: [Int], next: Int)
  /// Receives `count` values, sleeping `pause` after each.
  case consumer(count: Int, pause: Duration, resumeAt: Instant?)
  /// Waits for the notify or a 10 ms sleep, whichever first, `count` times.
  case selector(count: Int, sleepUntil: Instant?)
  /// Joins a 5 ms sleep and the notify.
  case joiner(Join2<Void, Void>, sleepUntil: Instant?)
  /// Waits for the signal with a timeout of `after`.
  case timed(after: Duration, timeout: Timeout?)

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout BlockWorld)
    -> Poll<Void>
  {
    switch self {
    case .ticker(var ticker, var count, let stallAt, let stall):
      defer { self = .ticker(ticker, count: count, stallAt: stallAt, stall: stall) }
      while count > 0, case .ready(let tick) = try! ticker.poll(&cx) {
        count -= 1
        world.log(&cx, "tick \(tick.scheduled.nanoseconds / 1_000_000) missed=\(ticker.missed)")
        if ticker.delivered == stallAt { world.trace.append("stall") }
      }
      return count == 0 ? .ready(()) : .pending

    case .signalWaiter(var count):
      defer { self = .signalWaiter(count: count) }
      while count > 0, case .ready(let value) = world.signal.wait(&cx) {
        count -= 1
        world.log(&cx, "signal \(value)")
      }
      return count == 0 ? .ready(()) : .pending

    case .producer(let values, var next):
      defer { self = .producer(values: values, next: next) }
      while next < values.count {
        guard case .ready = world.channel.send(values[next], &cx) else {
          world.log(&cx, "producer full at \(values[next])")
          return .pending
        }
        world.log(&cx, "sent \(values[next])")
        next += 1
      }
      return .ready(())

    case .consumer(var count, let pause, var resumeAt):
      defer { self = .consumer(count: count, pause: pause, resumeAt: resumeAt) }
      while count > 0 {
        if let until = resumeAt {
          guard case .ready = try! cx.sleep(until: until) else { return .pending }
          resumeAt = nil
        }
        guard case .ready(let value) = world.channel.receive(&cx) else {
          world.log(&cx, "consumer empty")
          return .pending
        }
        world.log(&cx, "received \(value)")
        count -= 1
        resumeAt = cx.now + pause
      }
      return .ready(())

    case .selector(var count, var sleepUntil):
      defer { self = .selector(count: count, sleepUntil: sleepUntil) }
      while count > 0 {
        let deadline = sleepUntil ?? cx.now + .milliseconds(10)
        sleepUntil = deadline
        let outcome = select(&cx, { world.notify.wait(&$0) }, { try! $0.sleep(until: deadline) })
        switch outcome {
        case .pending: return .pending
        case .ready(.first): world.log(&cx, "select notify")
        case .ready(.second): world.log(&cx, "select sleep")
        }
        sleepUntil = nil
        count -= 1
      }
      return .ready(())

    case .joiner(var join, var sleepUntil):
      defer { self = .joiner(join, sleepUntil: sleepUntil) }
      let deadline = sleepUntil ?? cx.now + .milliseconds(5)
      sleepUntil = deadline
      guard case .ready = join.poll(&cx, { try! $0.sleep(until: deadline) }, { world.notify.wait(&$0) })
      else { return .pending }
      world.log(&cx, "joined")
      return .ready(())

    case .timed(let after, var timeout):
      defer { self = .timed(after: after, timeout: timeout) }
      let limit = timeout ?? Timeout(after: after, &cx)
      timeout = limit
      switch try! limit.poll(&cx, { world.signal.wait(&$0) }) {
      case .pending: return .pending
      case .ready(.success(let value)): world.log(&cx, "got \(value)")
      case .ready(.failure(let timedOut)):
        world.log(&cx, "timed out at \(timedOut.deadline.nanoseconds / 1_000_000)ms")
      }
      return .ready(())
    }
  }
}

typealias BlockExecutor = Executor<4, 4, BlockTask, VirtualPlatform>

/// Runs `executor` in steps of 1 ms of virtual time for `steps` steps.
func step(_ executor: inout BlockExecutor, _ world: inout BlockWorld, ms steps: Int) {
  for _ in 0..<steps {
    executor.platform.advance(by: .milliseconds(1))
    executor.runUntilStalled(&world)
  }
}

@Suite struct TickerTests {
  @Test func ticksOnAFixedGridWithoutDrift() throws {
    var executor = BlockExecutor(platform: VirtualPlatform())
    var world = BlockWorld()
    let ticker = Ticker(period: .milliseconds(10), first: .zero + .milliseconds(10))
    try executor.spawn(.ticker(ticker, count: 3, stallAt: -1, stall: .zero))
    executor.runUntilStalled(&world)
    // Wakes 3 ms late each time: the grid stays at 10, 20, 30 (no drift).
    for _ in 0..<3 {
      executor.platform.advance(by: .milliseconds(13) - .milliseconds(3))
      executor.runUntilStalled(&world)
    }
    #expect(world.trace == ["10ms tick 10 missed=0", "20ms tick 20 missed=0", "30ms tick 30 missed=0"])
    #expect(executor.liveTasks == 0)
  }

  /// The loop stalls from 10 ms to 45 ms; each policy treats the ticks due at 20, 30, 40 ms.
  func stalledTrace(_ policy: MissedTickPolicy) throws -> [String] {
    var executor = BlockExecutor(platform: VirtualPlatform())
    var world = BlockWorld()
    let ticker = Ticker(period: .milliseconds(10), first: .zero + .milliseconds(10), policy: policy)
    try executor.spawn(.ticker(ticker, count: 5, stallAt: -1, stall: .zero))
    executor.platform.advance(by: .milliseconds(10))
    executor.runUntilStalled(&world)
    executor.platform.advance(by: .milliseconds(35))  // stalled: now 45 ms
    executor.runUntilStalled(&world)
    while executor.liveTasks > 0 {
      executor.platform.advance(by: .milliseconds(1))
      executor.runUntilStalled(&world)
    }
    return world.trace
  }

  @Test func burstDeliversEveryOverdueTick() throws {
    #expect(
      try stalledTrace(.burst) == [
        "10ms tick 10 missed=0",
        // 20, 30, 40 were due during the stall: delivered back to back at 45 ms.
        "45ms tick 20 missed=0", "45ms tick 30 missed=0", "45ms tick 40 missed=0",
        "50ms tick 50 missed=0",
      ])
  }

  @Test func skipDropsOverdueTicksAndKeepsTheGrid() throws {
    #expect(
      try stalledTrace(.skip) == [
        "10ms tick 10 missed=0",
        // The 20 ms tick is delivered late; 30 and 40 are dropped; the grid stays 50, 60, ...
        "45ms tick 20 missed=2", "50ms tick 50 missed=2", "60ms tick 60 missed=2",
        "70ms tick 70 missed=2",
      ])
  }

  @Test func delayRestartsTheGridFromTheLateTick() throws {
    #expect(
      try stalledTrace(.delay) == [
        "10ms tick 10 missed=0",
        // The 20 ms tick is delivered at 45 ms, 30 and 40 dropped; the grid restarts at 55.
        "45ms tick 20 missed=2", "55ms tick 55 missed=2", "65ms tick 65 missed=2",
        "75ms tick 75 missed=2",
      ])
  }
}

@Suite struct SignalAndChannelTests {
  @Test func signalWakesTheWaiterWithTheLatestValue() throws {
    var executor = BlockExecutor(platform: VirtualPlatform())
    var world = BlockWorld()
    try executor.spawn(.signalWaiter(count: 2))
    executor.runUntilStalled(&world)  // waits: nothing signalled
    #expect(world.trace.isEmpty)
    // Two values before the waiter runs: the first is overwritten (counted).
    let first = world.signal.signal(1)
    #expect(world.signal.signal(2) == nil)  // the waiter was handed out by the first signal
    executor.wake(first!)
    #expect(world.signal.overwritten == 1)
    executor.runUntilStalled(&world)
    #expect(world.trace == ["0ms signal 2"])
    // A signal from outside returns the waiter to wake; without the wake nothing runs.
    let waker = world.signal.signal(3)
    #expect(waker != nil)
    executor.runUntilStalled(&world)
    #expect(world.trace == ["0ms signal 2"])
    executor.wake(waker!)
    executor.runUntilStalled(&world)
    #expect(world.trace == ["0ms signal 2", "0ms signal 3"])
    #expect(executor.liveTasks == 0)
  }

  @Test func producerWaitsWhileTheChannelIsFull() throws {
    var executor = BlockExecutor(platform: VirtualPlatform())
    var world = BlockWorld()
    try executor.spawn(.producer(values: [1, 2, 3, 4], next: 0))
    try executor.spawn(.consumer(count: 4, pause: .milliseconds(2), resumeAt: nil))
    executor.runUntilStalled(&world)
    #expect(
      world.trace == [
        "0ms sent 1", "0ms sent 2",
        "0ms producer full at 3",  // capacity 2: the producer waits
        "0ms received 1",  // the consumer takes one, wakes the producer, then pauses 2 ms
        "0ms sent 3", "0ms producer full at 4",
      ])
    world.trace = []
    step(&executor, &world, ms: 6)
    #expect(
      world.trace == [
        "2ms received 2", "2ms sent 4", "4ms received 3", "6ms received 4",
      ])
    #expect(executor.liveTasks == 0)
  }

  @Test func trySendOnAFullChannelThrowsAndReceiveOnEmptyWaits() throws {
    var world = BlockWorld()
    #expect(try world.channel.trySend(1) == nil)
    #expect(try world.channel.trySend(2) == nil)
    let full = world.channel.isFull
    #expect(full)
    #expect(throws: CapacityError.channel) { try world.channel.trySend(3) }
    #expect(world.channel.tryReceive() == 1)
    #expect(world.channel.tryReceive() == 2)
    #expect(world.channel.tryReceive() == nil)

    var executor = BlockExecutor(platform: VirtualPlatform())
    try executor.spawn(.consumer(count: 1, pause: .zero, resumeAt: nil))
    executor.runUntilStalled(&world)
    #expect(world.trace == ["0ms consumer empty"])
    if let receiver = try world.channel.trySend(9) { executor.wake(receiver) }
    executor.runUntilStalled(&world)
    #expect(world.trace == ["0ms consumer empty", "0ms received 9"])
  }
}

@Suite struct CombinatorTests {
  @Test func selectTakesWhicheverIsReadyFirst() throws {
    var executor = BlockExecutor(platform: VirtualPlatform())
    var world = BlockWorld()
    try executor.spawn(.selector(count: 2, sleepUntil: nil))
    executor.runUntilStalled(&world)
    step(&executor, &world, ms: 3)
    if let waker = world.notify.signal(()) { executor.wake(waker) }  // at 3 ms: notify wins
    executor.runUntilStalled(&world)
    step(&executor, &world, ms: 13)  // nothing notifies: the 10 ms sleep wins at 13 ms
    #expect(world.trace == ["3ms select notify", "13ms select sleep"])
    #expect(executor.liveTasks == 0)
    #expect(executor.armedTimers == 0)
  }

  @Test func joinWaitsForBoth() throws {
    var executor = BlockExecutor(platform: VirtualPlatform())
    var world = BlockWorld()
    try executor.spawn(.joiner(Join2(), sleepUntil: nil))
    executor.runUntilStalled(&world)
    if let waker = world.notify.signal(()) { executor.wake(waker) }  // notify first, at 0 ms
    executor.runUntilStalled(&world)
    #expect(world.trace.isEmpty)  // the sleep is not done yet
    step(&executor, &world, ms: 5)
    #expect(world.trace == ["5ms joined"])
  }

  @Test func timeoutFiresWhenNothingArrives() throws {
    var executor = BlockExecutor(platform: VirtualPlatform())
    var world = BlockWorld()
    try executor.spawn(.timed(after: .milliseconds(4), timeout: nil))
    executor.runUntilStalled(&world)
    step(&executor, &world, ms: 6)
    #expect(world.trace == ["4ms timed out at 4ms"])
  }

  @Test func timeoutDoesNotFireWhenTheOperationFinishes() throws {
    var executor = BlockExecutor(platform: VirtualPlatform())
    var world = BlockWorld()
    try executor.spawn(.timed(after: .milliseconds(4), timeout: nil))
    executor.runUntilStalled(&world)
    step(&executor, &world, ms: 2)
    if let waker = world.signal.signal(7) { executor.wake(waker) }
    executor.runUntilStalled(&world)
    #expect(world.trace == ["2ms got 7"])
    // The task finished: its deadline was dropped with it.
    #expect(executor.armedTimers == 0)
  }
}
