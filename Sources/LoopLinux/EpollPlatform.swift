// The Linux platform: the executor's one blocking call is one `epoll_wait` over a fixed set of
// event sources, each of which raises an interrupt line or moves the clock:
//   - one timerfd (CLOCK_MONOTONIC, absolute) armed with the executor's earliest deadline,
//     re-armed only when that deadline changes;
//   - eventfds ("triggers") that another thread or a POSIX signal handler raises;
//   - one signalfd for the POSIX signals the program handles as events;
//   - fds watched for readiness on behalf of their owners (GPIO lines, pipes, the output).
// An epoll event's 64-bit user data says which source it is and which line to raise, so a
// wake costs no table lookup. Nothing here allocates; every table is an InlineArray.

import CLinux
import LoopCore

/// Which readiness of a watched fd raises its line.
public enum Readiness: Sendable {
  /// Data to read (EPOLLIN).
  case readable
  /// Room to write (EPOLLOUT).
  case writable
  /// Either.
  case both
}

/// A handle that raises one interrupt line from any thread or from a POSIX signal handler.
///
/// It names an eventfd owned by the platform that made it: use it only while that platform
/// lives (after the platform is gone the fd number may belong to someone else).
public struct InterruptTrigger: Equatable, Sendable {
  /// The eventfd.
  public let rawValue: Int32
  /// The line the platform raises when the eventfd is written.
  public let line: Interrupt

  /// Raises the line: one 8-byte `write` to the eventfd, async-signal-safe, errno preserved.
  /// Raises that arrive before the loop wakes coalesce into one.
  @inline(__always)
  public func raise() { cl_eventfd_signal(rawValue) }
}

/// What the epoll platform has done, for the firmware's stats dump and for tests.
public struct PlatformCounters: Equatable, Sendable {
  /// Calls to `epoll_wait` (EINTR retries not counted).
  public var waits: UInt64 = 0
  /// `epoll_wait` calls that returned at least one event.
  public var wakeups: UInt64 = 0
  /// Epoll events handled.
  public var events: UInt64 = 0
  /// `epoll_wait` calls interrupted by a signal (EINTR) and retried.
  public var interruptedWaits: UInt64 = 0
  /// Calls to `timerfd_settime`.
  public var timerArms: UInt64 = 0
  /// Timerfd expirations read.
  public var timerFires: UInt64 = 0
  /// Timer overruns: timerfd expirations read `overrunThreshold` or more after their deadline,
  /// plus expirations beyond one in a single read (see `EpollReactor.overrunThreshold`).
  public var overruns: UInt64 = 0
  /// The latest a timerfd expiration was read after its deadline.
  public var maxTimerLateness: Duration = .zero
  /// Eventfd reads that found the trigger raised.
  public var triggerWakes: UInt64 = 0
  /// Signal records read from the signalfd.
  public var signals: UInt64 = 0

  /// Zeroed counters.
  public init() {}
}

/// The Linux platform with the real system calls: what sensorloop runs on.
public typealias EpollPlatform = EpollReactor<LinuxCalls>

/// An epoll reactor over the system calls `Sys` (the real ones in `EpollPlatform`; tests
/// substitute a scripted layer to drive EINTR and EAGAIN).
///
/// Blocks only in `epoll_wait` (the executor's one blocking call); holds `triggerCapacity`
/// eventfds and `signalCapacity` signals in inline tables; never allocates after `init`.
public struct EpollReactor<Sys: SystemCalls>: Platform, ~Copyable {
  /// How many triggers (`makeTrigger`) one platform can hold.
  public static var triggerCapacity: Int { 16 }
  /// How many distinct signals (`watchSignal`) one platform can handle.
  public static var signalCapacity: Int { 8 }
  /// Epoll events taken per `epoll_wait`; more ready fds are taken by the next wait.
  public static var eventBatch: Int { 16 }

  private let epoll: FileDescriptor
  private let timer: FileDescriptor
  /// The deadline the timerfd is armed with; nil once its expiration has been read.
  private var armed: Instant?
  private var triggers = InlineArray<16, Int32>(repeating: -1)
  private var triggerCount = 0
  private var signalFD: Int32 = -1
  private var signalMask = sigset_t()
  private var signals = InlineArray<8, SignalEntry>(repeating: SignalEntry())
  private var signalCount = 0

  /// What the platform has done so far.
  public private(set) var counters = PlatformCounters()

  /// A timerfd expiration read this late (or later) after its deadline counts as an overrun.
  ///
  /// An overrun means the loop did not reach `epoll_wait` in time (a task ran too long, the
  /// host stalled), or the kernel woke it late; expirations beyond one also count. The clock is
  /// CLOCK_MONOTONIC, which stops while the board is suspended, so a suspend is not an overrun.
  /// Only deadlines delivered through the timerfd are measured: one the executor finds already
  /// passed at a non-blocking check never arms it (a `Ticker` counts its own missed ticks).
  public var overrunThreshold: Duration = .milliseconds(1)

  /// One epoll fd and one timerfd (CLOCK_MONOTONIC, nonblocking, close-on-exec), nothing armed.
  public init() throws(Errno) {
    let epfd = try systemCall("EpollPlatform.init") { cl_epoll_create1(Int32(EPOLL_CLOEXEC)) }
    let epoll = FileDescriptor(adopting: epfd)
    let tfd = try systemCall("EpollPlatform.init") {
      cl_timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
    }
    let timer = FileDescriptor(adopting: tfd)
    try Self.control(
      epoll.rawValue, EPOLL_CTL_ADD, tfd, events: EPOLLIN.rawValue,
      tag: Source.timer.tag(line: 0, fd: tfd))
    self.epoll = epoll
    self.timer = timer
  }

  deinit {
    for i in 0..<triggerCount { _ = cl_close(triggers[i]) }
    if signalFD >= 0 { _ = cl_close(signalFD) }
  }

  /// The epoll fd, for diagnostics.
  package var epollDescriptor: Int32 { epoll.rawValue }

  /// The deadline the timerfd is armed with, if its expiration has not been read yet.
  package var armedDeadline: Instant? { armed }

  /// How many times `signal` was delivered through the signalfd.
  public func deliveries(of signal: Int32) -> UInt64 {
    for i in 0..<signalCount where signals[i].signal == signal { return signals[i].deliveries }
    return 0
  }

  // MARK: Platform

  /// The current time on CLOCK_MONOTONIC.
  public mutating func now() -> Instant { Sys.now() }

  /// Blocks in one `epoll_wait` as `limit` allows, then reads every ready source and adds
  /// the lines they raise to `raised`.
  ///
  /// `.deadline(t)` arms the timerfd at `t` unless it is already armed there and waits with no
  /// timeout (the timerfd carries time); `.poll` waits with timeout 0; `.forever` with -1 and
  /// leaves an armed timer alone (a stale expiration only causes one spurious wake).
  public mutating func wait(_ limit: WaitLimit, raised: inout InterruptSet) {
    var timeout: Int32 = -1
    switch limit {
    case .poll: timeout = 0
    case .forever: break
    case .deadline(let deadline): arm(deadline)
    }
    var batch = InlineArray<16, epoll_event>(repeating: epoll_event())
    var span = batch.mutableSpan
    var calls: UInt64 = 0
    let epfd = epoll.rawValue
    let count: Int32
    do {
      count = try span.withUnsafeMutableBufferPointer { (events) throws(Errno) -> Int32 in
        // SAFETY: `events` is the batch's storage, valid for this closure; the kernel writes
        // at most `events.count` entries.
        try systemCall("EpollPlatform.wait: epoll_wait", via: Sys.self) {
          calls += 1
          return Sys.epollWait(epfd, events.baseAddress, Int32(events.count), timeout)
        }
      }
    } catch {
      bug("EpollPlatform.wait: epoll_wait failed")
    }
    counters.waits += 1
    counters.interruptedWaits += calls - 1
    if count == 0 { return }
    counters.wakeups += 1
    counters.events += UInt64(count)
    for i in 0..<Int(count) {
      let tag = batch[i].data.u64
      let fd = Int32(truncatingIfNeeded: tag & 0xFFFF_FFFF)
      let line = Interrupt(Int((tag >> 32) & 0xFF))
      switch Source(rawValue: tag >> 56) {
      case .timer: drainTimer()
      case .trigger: drainTrigger(fd, line, &raised)
      case .signal: drainSignals(&raised)
      case .watched: raised.insert(line)
      case nil: bug("EpollPlatform.wait: unknown epoll tag")
      }
    }
  }

  // MARK: Sources

  /// Watches `fd` (owned by the caller) and raises `line` each time it becomes `readiness`
  /// ready, or reports an error or hang-up.
  ///
  /// Edge-triggered: the line is raised once per change, so the task that takes it must read
  /// (or write) until `.wouldBlock`. Watching an fd again replaces its line and readiness.
  /// Unwatch before closing the fd. The corresponding C function is `epoll_ctl`.
  public mutating func watch(_ fd: Int32, as line: Interrupt, for readiness: Readiness) throws(Errno) {
    var events = EPOLLET.rawValue
    switch readiness {
    case .readable: events |= EPOLLIN.rawValue
    case .writable: events |= EPOLLOUT.rawValue
    case .both: events |= EPOLLIN.rawValue | EPOLLOUT.rawValue
    }
    let tag = Source.watched.tag(line: line.number, fd: fd)
    do {
      try Self.control(epoll.rawValue, EPOLL_CTL_ADD, fd, events: events, tag: tag)
    } catch  where error == .exists {
      try Self.control(epoll.rawValue, EPOLL_CTL_MOD, fd, events: events, tag: tag)
    }
  }

  /// Stops watching `fd`. Throws `.noEntry` when it was not watched.
  public mutating func unwatch(_ fd: Int32) throws(Errno) {
    try Self.control(epoll.rawValue, EPOLL_CTL_DEL, fd, events: 0, tag: 0)
  }

  /// A new trigger for `line`: an eventfd the platform owns and watches.
  ///
  /// Throws `.noSpace` when `triggerCapacity` triggers exist. The corresponding C function is
  /// `eventfd`.
  public mutating func makeTrigger(for line: Interrupt) throws(Errno) -> InterruptTrigger {
    guard triggerCount < Self.triggerCapacity else { throw .noSpace }
    let fd = try systemCall("EpollPlatform.makeTrigger") {
      cl_eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    }
    do {
      try Self.control(
        epoll.rawValue, EPOLL_CTL_ADD, fd, events: EPOLLIN.rawValue,
        tag: Source.trigger.tag(line: line.number, fd: fd))
    } catch {
      _ = cl_close(fd)
      throw error
    }
    triggers[triggerCount] = fd
    triggerCount += 1
    return InterruptTrigger(rawValue: fd, line: line)
  }

  /// Delivers POSIX signal `signal` as interrupt `line` through the platform's signalfd.
  ///
  /// Blocks the signal in the calling thread (pthread_sigmask), so its default action no
  /// longer runs. A process-directed signal (kill, Ctrl-C) goes to any thread that does not
  /// block it, so call this before starting other threads (they inherit the mask). A
  /// thread-directed signal (`raise`, `pthread_kill`) is seen only when sent to the thread that
  /// runs the loop: a signalfd reads the process's pending signals and the reader's own. The
  /// signal stays blocked after the platform is gone. Watching a signal again changes its line.
  /// Throws `.noSpace` when `signalCapacity` signals are watched.
  public mutating func watchSignal(_ signal: Int32, as line: Interrupt) throws(Errno) {
    var index = 0
    while index < signalCount && signals[index].signal != signal { index += 1 }
    if index == signalCount && signalCount == Self.signalCapacity { throw .noSpace }

    var one = sigset_t()
    _ = cl_sigemptyset(&one)
    if cl_sigaddset(&one, signal) != 0 { throw .invalidArgument }
    let failed = cl_pthread_sigmask(SIG_BLOCK, &one, nil)
    if failed != 0 { throw Errno(rawValue: failed) }

    var mask = signalMask
    _ = cl_sigaddset(&mask, signal)
    let existing = signalFD
    let fd = try systemCall("EpollPlatform.watchSignal") {
      cl_signalfd(existing, &mask, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
    }
    if existing < 0 {
      do {
        try Self.control(
          epoll.rawValue, EPOLL_CTL_ADD, fd, events: EPOLLIN.rawValue,
          tag: Source.signal.tag(line: 0, fd: fd))
      } catch {
        _ = cl_close(fd)
        throw error
      }
      signalFD = fd
    }
    signalMask = mask
    if index == signalCount {
      signals[index] = SignalEntry(signal: signal, line: line)
      signalCount += 1
    } else {
      signals[index].line = line
    }
  }

  // MARK: Internals

  /// Arms the timerfd at `deadline` (absolute) unless it is armed there already.
  private mutating func arm(_ deadline: Instant) {
    if armed == deadline { return }
    // An all-zero it_value would disarm the timer, so the origin itself is 1 ns.
    let ns = deadline.nanoseconds > 0 ? deadline.nanoseconds : 1
    var spec = itimerspec()
    // Clamped so a 32-bit time_t (armhf) cannot wrap; 68 years of uptime is "never".
    let seconds = ns / 1_000_000_000 < 2_147_483_647 ? ns / 1_000_000_000 : 2_147_483_647
    spec.it_value.tv_sec = time_t(truncatingIfNeeded: seconds)
    spec.it_value.tv_nsec = Int(truncatingIfNeeded: ns % 1_000_000_000)
    let tfd = timer.rawValue
    do {
      _ = try systemCall("EpollPlatform.wait: timerfd_settime", via: Sys.self) {
        Sys.timerfdSetTime(tfd, Int32(TFD_TIMER_ABSTIME), &spec)
      }
    } catch {
      bug("EpollPlatform.wait: timerfd_settime failed")
    }
    counters.timerArms += 1
    armed = deadline
  }

  /// Reads the timerfd's expiration count and records lateness and overruns.
  private mutating func drainTimer() {
    guard let expirations = readCounter(timer.rawValue, "EpollPlatform.wait: timerfd read")
    else { return }
    counters.timerFires += 1
    if expirations > 1 { counters.overruns += expirations - 1 }
    if let deadline = armed {
      let late = Sys.now() - deadline
      if late > counters.maxTimerLateness { counters.maxTimerLateness = late }
      if late >= overrunThreshold { counters.overruns += 1 }
    }
    armed = nil
  }

  /// Resets a trigger's eventfd and raises its line if it had been written.
  private mutating func drainTrigger(_ fd: Int32, _ line: Interrupt, _ raised: inout InterruptSet) {
    guard let count = readCounter(fd, "EpollPlatform.wait: eventfd read"), count > 0 else { return }
    counters.triggerWakes += 1
    raised.insert(line)
  }

  /// Reads every pending signal record and raises each signal's line.
  private mutating func drainSignals(_ raised: inout InterruptSet) {
    let fd = signalFD
    while true {
      var info = signalfd_siginfo()
      let outcome = withUnsafeMutableBytes(of: &info) { raw in
        // SAFETY: `raw` covers `info` for the duration of the read.
        systemCallResult("EpollPlatform.wait: signalfd read", via: Sys.self) {
          Sys.read(fd, raw.baseAddress, raw.count)
        }
      }
      // Matched by pattern, not compared with `!=`: on a host build the generic `==` of
      // Result<Int, Errno> instantiated its metadata at the first signal, six allocations in
      // the steady state.
      let size: Int
      switch outcome {
      case .success(let n): size = n
      case .failure(.wouldBlock): return
      case .failure: bug("EpollPlatform.wait: signalfd read failed")
      }
      if size != MemoryLayout<signalfd_siginfo>.size { return }
      counters.signals += 1
      let signal = Int32(bitPattern: info.ssi_signo)
      for i in 0..<signalCount where signals[i].signal == signal {
        signals[i].deliveries += 1
        raised.insert(signals[i].line)
      }
    }
  }

  /// Reads the 8-byte counter of an eventfd or timerfd; nil when there was nothing to read.
  private func readCounter(_ fd: Int32, _ function: StaticString) -> UInt64? {
    var value: UInt64 = 0
    let outcome = withUnsafeMutableBytes(of: &value) { raw in
      // SAFETY: `raw` covers `value` for the duration of the read.
      systemCallResult(function, via: Sys.self) { Sys.read(fd, raw.baseAddress, raw.count) }
    }
    switch outcome {
    case .success(let size): return size == 8 ? value : nil
    case .failure(.wouldBlock): return nil
    case .failure: bug(function)
    }
  }

  /// One `epoll_ctl` call with `events` and user data `tag`.
  private static func control(_ epfd: Int32, _ op: Int32, _ fd: Int32, events: UInt32, tag: UInt64)
    throws(Errno)
  {
    var event = epoll_event()
    event.events = events
    event.data.u64 = tag
    _ = try systemCall("EpollPlatform: epoll_ctl") { cl_epoll_ctl(epfd, op, fd, &event) }
  }
}

/// What kind of source an epoll event came from: the top byte of its user data.
enum Source: UInt64 {
  case timer = 1, trigger, signal, watched

  /// User data: kind in bits 56–63, line in bits 32–39, fd in bits 0–31.
  func tag(line: Int, fd: Int32) -> UInt64 {
    rawValue << 56 | UInt64(truncatingIfNeeded: line) << 32
      | UInt64(UInt32(bitPattern: fd))
  }
}

/// One watched signal: its number, its line, and how often it came.
struct SignalEntry {
  var signal: Int32 = 0
  var line = Interrupt(0)
  var deliveries: UInt64 = 0
}
