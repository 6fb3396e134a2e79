// POSIX signals with real delivery: through the signalfd (SIGUSR1, SIGINT, SIGTERM, SIGHUP),
// from a signal handler that raises a trigger, and a signal that interrupts a blocked
// epoll_wait (a real EINTR). Then the steady-state allocation proof, which also uses signals.
//
// Serialized, and every signal is thread-directed (`raise`, `pthread_kill`) at the thread that
// runs the loop, so the parallel tests on other threads never see one. Each test restores the
// thread's signal mask and handlers it changed.

import AllocCounter
import Foundation
import LoopCore
import LoopLinux
import Testing

/// The trigger the SIGUSR2 handler raises (set before the handler is installed).
nonisolated(unsafe) private var handlerTrigger: InterruptTrigger?

/// Runs `body` with the calling thread's signal mask restored afterwards.
private func preservingSignalMask<R>(_ body: () throws -> R) rethrows -> R {
  var old = sigset_t()
  pthread_sigmask(SIG_SETMASK, nil, &old)
  defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
  return try body()
}

/// Runs `body` with a SIGUSR2 handler that raises `handlerTrigger`, SIGUSR2 unblocked.
private func withSIGUSR2Handler<R>(_ body: () throws -> R) rethrows -> R {
  try preservingSignalMask {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in handlerTrigger?.raise() }
    sigemptyset(&action.sa_mask)
    action.sa_flags = 0  // no SA_RESTART: an interrupted epoll_wait returns EINTR
    var old = sigaction()
    sigaction(SIGUSR2, &action, &old)
    defer { sigaction(SIGUSR2, &old, nil) }
    var unblock = sigset_t()
    sigemptyset(&unblock)
    sigaddset(&unblock, SIGUSR2)
    pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    return try body()
  }
}

@Suite(.serialized) struct SignalTests {
  /// `raise(SIGUSR1)` reaches the one task waiting for SIGUSR1's line, through the signalfd.
  @Test func sigusr1ReachesTheWaitingTask() throws {
    try preservingSignalMask {
      var executor = try makeExecutor()
      try executor.platform.watchSignal(SIGUSR1, as: Interrupt(4))
      let waiter = try executor.spawn(.waiter(id: 1, line: Interrupt(4)))
      let bystander = try executor.spawn(.waiter(id: 2, line: Interrupt(5)))
      try executor.spawn(.signaller(signal: SIGUSR1))
      var world = LinuxWorld(stopAfter: 1)
      #expect(executor.run(&world) == .stopped)
      #expect(world.events == ["1:woke"])
      #expect(executor.stats(waiter) == nil)
      #expect(executor.stats(bystander)?.wakes == 0)
      #expect(executor.platform.deliveries(of: SIGUSR1) == 1)
      #expect(executor.platform.counters.signals == 1)
    }
  }

  /// The four signals sensorloop handles each wake their own task; counts are per signal.
  @Test func eachHandledSignalWakesItsTask() throws {
    try preservingSignalMask {
      var executor = try makeExecutor()
      let table: [(signal: Int32, line: Int)] = [(SIGINT, 10), (SIGTERM, 11), (SIGHUP, 12), (SIGUSR1, 13)]
      for (id, entry) in table.enumerated() {
        try executor.platform.watchSignal(entry.signal, as: Interrupt(entry.line))
        try executor.spawn(.waiter(id: id, line: Interrupt(entry.line)))
      }
      // SIGHUP twice before the loop runs: a standard signal coalesces while pending.
      try executor.spawn(.signaller(signal: SIGHUP))
      try executor.spawn(.signaller(signal: SIGHUP))
      try executor.spawn(.signaller(signal: SIGTERM))
      var world = LinuxWorld(stopAfter: 2)
      #expect(executor.run(&world) == .stopped)
      #expect(world.events.sorted() == ["1:woke", "2:woke"])
      #expect(executor.platform.deliveries(of: SIGHUP) == 1)
      #expect(executor.platform.deliveries(of: SIGTERM) == 1)
      #expect(executor.platform.deliveries(of: SIGINT) == 0)
      // Now the other two.
      try executor.spawn(.signaller(signal: SIGINT))
      try executor.spawn(.signaller(signal: SIGUSR1))
      world.stopAfter = 4
      #expect(executor.run(&world) == .stopped)
      #expect(world.events.sorted() == ["0:woke", "1:woke", "2:woke", "3:woke"])
      for entry in table { #expect(executor.platform.deliveries(of: entry.signal) == 1) }
    }
  }

  /// Watching more signals than the table holds is a thrown `.noSpace`, not a trap.
  @Test func signalTableFull() throws {
    try preservingSignalMask {
      var platform = try EpollPlatform()
      let signals = [SIGUSR1, SIGUSR2, SIGHUP, SIGINT, SIGTERM, SIGALRM, SIGWINCH, SIGCHLD]
      #expect(signals.count == EpollPlatform.signalCapacity)
      for (i, signal) in signals.enumerated() { try platform.watchSignal(signal, as: Interrupt(i)) }
      // Re-watching a signal already in the table only changes its line.
      try platform.watchSignal(SIGUSR1, as: Interrupt(20))
      #expect(throws: Errno.noSpace) { try platform.watchSignal(SIGPIPE, as: Interrupt(30)) }
    }
  }

  /// A signal handler raises a trigger (one async-signal-safe write) and the waiting task wakes.
  @Test func triggerRaisedFromASignalHandler() throws {
    var executor = try makeExecutor()
    handlerTrigger = try executor.platform.makeTrigger(for: Interrupt(6))
    defer { handlerTrigger = nil }
    try withSIGUSR2Handler {
      try executor.spawn(.waiter(id: 1, line: Interrupt(6)))
      try executor.spawn(.waiter(id: 2, line: Interrupt(7)))
      try executor.spawn(.signaller(signal: SIGUSR2))
      var world = LinuxWorld(stopAfter: 1)
      #expect(executor.run(&world) == .stopped)
      #expect(world.events == ["1:woke"])
      #expect(executor.platform.counters.triggerWakes == 1)
    }
  }

  /// A signal that lands while the loop is blocked in epoll_wait interrupts it (EINTR); the
  /// wait is retried and returns with the trigger the handler raised.
  @Test func signalInterruptsABlockedWait() throws {
    var executor = try makeExecutor()
    handlerTrigger = try executor.platform.makeTrigger(for: Interrupt(6))
    defer { handlerTrigger = nil }
    try withSIGUSR2Handler {
      try executor.spawn(.waiter(id: 1, line: Interrupt(6)))
      let loopThread = pthread_self()
      let sender = Thread {
        // Give the loop time to block; if it has not yet, the wake still arrives, only
        // without an EINTR, so the count below is not asserted.
        Thread.sleep(forTimeInterval: 0.05)
        pthread_kill(loopThread, SIGUSR2)
      }
      sender.start()
      var world = LinuxWorld(stopAfter: 1)
      #expect(executor.run(&world) == .stopped)
      #expect(world.events == ["1:woke"])
      let interrupted = executor.platform.counters.interruptedWaits
      #expect(interrupted <= 1)
    }
  }

  /// The steady state allocates nothing: 10,000 iterations of a task that raises a trigger,
  /// raises SIGUSR1 and sleeps on the timerfd, each woken through the epoll platform.
  ///
  /// Under valgrind, valgrind's malloc replaces the counting interposer, so the loop runs (for
  /// memcheck) but the count cannot be asserted.
  @Test func steadyStateAllocatesNothing() throws {
    let preload = getenv("LD_PRELOAD").map { String(cString: $0) } ?? ""
    let underValgrind = preload.contains("vgpreload")
    try preservingSignalMask {
      if !underValgrind { #expect(sl_alloc_counter_active() != 0) }
      var executor = CycleExecutor(platform: try EpollPlatform())
      let trigger = try executor.platform.makeTrigger(for: Interrupt(1))
      try executor.platform.watchSignal(SIGUSR1, as: Interrupt(2))
      try executor.spawn(.cycle(trigger: trigger, step: 0, deadline: .zero))
      var world = CycleWorld()
      // Startup and warm-up: the first iterations may allocate (lazy runtime state).
      world.stopAt = 100
      #expect(executor.run(&world) == .stopped)
      world.stopAt = 10_100
      let before = sl_alloc_count_thread()
      let end = executor.run(&world)
      let allocations = sl_alloc_count_thread() - before
      #expect(end == .stopped)
      #expect(world.iterations == 10_100)
      if !underValgrind { #expect(allocations == 0) }
      let counters = executor.platform.counters
      #expect(counters.triggerWakes >= 10_100)
      #expect(executor.platform.deliveries(of: SIGUSR1) == 10_100)
      // Most sleeps go through the timerfd; on a slow host some deadlines pass before the sleep.
      #expect(counters.timerFires > 0)
    }
  }
}

/// The allocation test's world: plain counters, nothing that allocates.
struct CycleWorld {
  var iterations = 0
  var stopAt = 0
}

/// One task that, per iteration, waits for its trigger, for SIGUSR1, and for a 20 µs timer.
enum CycleTask: TaskBody {
  typealias World = CycleWorld
  case cycle(trigger: InterruptTrigger, step: Int, deadline: Instant)

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout CycleWorld)
    -> Poll<Void>
  {
    guard case .cycle(let trigger, var step, var deadline) = self else { return .ready(()) }
    defer { self = .cycle(trigger: trigger, step: step, deadline: deadline) }
    while true {
      switch step {
      case 0:
        trigger.raise()
        step = 1
      case 1:
        guard cx.take(trigger.line) else { return .pending }
        Glibc.raise(SIGUSR1)
        step = 2
      case 2:
        guard cx.take(Interrupt(2)) else { return .pending }
        deadline = cx.now + .microseconds(20)
        step = 3
      default:
        guard case .ready = try! cx.sleep(until: deadline) else { return .pending }
        step = 0
        world.iterations += 1
        if world.iterations == world.stopAt {
          cx.stopExecutor()
          cx.yieldNow()
          return .pending
        }
      }
    }
  }
}

typealias CycleExecutor = Executor<4, 4, CycleTask, EpollPlatform>
