// EINTR and EAGAIN, table-driven through an injected system-call layer: `ScriptedCalls`
// replays scripted failures for the calls the epoll platform makes and forwards everything
// else to the real calls, so each row runs the platform against real fds plus one scripted
// misfortune, and states what the platform must do about it.

import CLinux
import LoopCore
import LoopLinux
import Testing

/// Which call a script entry is for.
enum ScriptedCall: Hashable, CustomStringConvertible {
  case epollWait, read, timerfdSetTime

  var description: String {
    switch self {
    case .epollWait: "epoll_wait"
    case .read: "read"
    case .timerfdSetTime: "timerfd_settime"
    }
  }
}

/// A system-call layer whose next calls fail as scripted, then behave normally.
enum ScriptedCalls: SystemCalls {
  /// Per call, the errnos its next calls fail with (consumed in order).
  nonisolated(unsafe) static var script: [ScriptedCall: [Int32]] = [:]
  /// Per call, how many times it was made.
  nonisolated(unsafe) static var calls: [ScriptedCall: Int] = [:]
  nonisolated(unsafe) static var scriptedErrno: Int32?

  static func reset(_ newScript: [ScriptedCall: [Int32]] = [:]) {
    script = newScript
    calls = [:]
    scriptedErrno = nil
  }

  /// Fails as scripted (returning -1), or returns nil to let the real call run.
  private static func scripted(_ call: ScriptedCall) -> Bool {
    calls[call, default: 0] += 1
    guard var errnos = script[call], !errnos.isEmpty else {
      scriptedErrno = nil
      return false
    }
    scriptedErrno = errnos.removeFirst()
    script[call] = errnos
    return true
  }

  static func lastErrno() -> Int32 { scriptedErrno ?? cl_errno() }
  static func now() -> Instant { monotonicNow() }

  static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    scripted(.read) ? -1 : cl_read(fd, buffer, count)
  }

  static func epollWait(
    _ epfd: Int32, _ events: UnsafeMutablePointer<epoll_event>?, _ max: Int32, _ timeout: Int32
  ) -> Int32 {
    scripted(.epollWait) ? -1 : cl_epoll_wait(epfd, events, max, timeout)
  }

  static func timerfdSetTime(_ fd: Int32, _ flags: Int32, _ value: UnsafePointer<itimerspec>) -> Int32 {
    scripted(.timerfdSetTime) ? -1 : cl_timerfd_settime(fd, flags, value, nil)
  }
}

/// What a platform row does before its wait.
enum Setup: CustomStringConvertible {
  /// Raise a trigger on line 1, then wait(.poll).
  case trigger
  /// Wait with a deadline already passed (the timerfd expires at once).
  case pastDeadline

  var description: String {
    switch self {
    case .trigger: "trigger raised"
    case .pastDeadline: "past deadline"
    }
  }
}

/// One row: a setup, a script, and what the first wait and a second `.poll` wait must report.
struct PlatformRow: CustomTestStringConvertible, Sendable {
  var name: String
  var setup: Setup
  var script: [ScriptedCall: [Int32]]
  /// Whether line 1 is raised by the first wait, then by the second.
  var raisedFirst: Bool
  var raisedSecond: Bool
  /// `interruptedWaits`, `timerFires` and `timerArms` after both waits.
  var interruptedWaits: UInt64 = 0
  var timerFires: UInt64 = 0
  var timerArms: UInt64 = 0
  /// How many times each call was made over both waits.
  var calls: [ScriptedCall: Int]

  var testDescription: String { name }
}

extension Setup: Sendable {}

let platformRows: [PlatformRow] = [
  PlatformRow(
    name: "no misfortune", setup: .trigger, script: [:], raisedFirst: true, raisedSecond: false,
    calls: [.epollWait: 2, .read: 1]),
  PlatformRow(
    name: "epoll_wait EINTR twice: retried, not a wake", setup: .trigger,
    script: [.epollWait: [EINTR, EINTR]], raisedFirst: true, raisedSecond: false,
    interruptedWaits: 2, calls: [.epollWait: 4, .read: 1]),
  PlatformRow(
    name: "eventfd read EINTR: retried", setup: .trigger, script: [.read: [EINTR]],
    raisedFirst: true, raisedSecond: false, calls: [.epollWait: 2, .read: 2]),
  PlatformRow(
    name: "eventfd read EAGAIN (someone else drained it): no raise, level-triggered retry",
    setup: .trigger, script: [.read: [EAGAIN]], raisedFirst: false, raisedSecond: true,
    calls: [.epollWait: 2, .read: 2]),
  PlatformRow(
    name: "timerfd_settime EINTR: retried, armed once", setup: .pastDeadline,
    script: [.timerfdSetTime: [EINTR]], raisedFirst: false, raisedSecond: false, timerFires: 1,
    timerArms: 1, calls: [.epollWait: 2, .read: 1, .timerfdSetTime: 2]),
  PlatformRow(
    name: "timerfd read EAGAIN: no fire counted, still armed, read next time", setup: .pastDeadline,
    script: [.read: [EAGAIN]], raisedFirst: false, raisedSecond: false, timerFires: 1, timerArms: 1,
    calls: [.epollWait: 2, .read: 2, .timerfdSetTime: 1]),
  PlatformRow(
    name: "timerfd read EINTR: retried", setup: .pastDeadline, script: [.read: [EINTR]],
    raisedFirst: false, raisedSecond: false, timerFires: 1, timerArms: 1,
    calls: [.epollWait: 2, .read: 2, .timerfdSetTime: 1]),
]

/// One row of the helper's table: the results a call returns in turn (with errno), and the
/// outcome `systemCall` must give.
struct HelperRow: CustomTestStringConvertible, Sendable {
  var name: String
  var results: [(value: Int, errno: Int32)]
  var retryOnInterrupt = true
  var expected: Result<Int, Errno>
  var calls: Int

  var testDescription: String { name }
}

let helperRows: [HelperRow] = [
  HelperRow(name: "success", results: [(5, 0)], expected: .success(5), calls: 1),
  HelperRow(name: "zero is success (EOF)", results: [(0, 0)], expected: .success(0), calls: 1),
  HelperRow(
    name: "EINTR retried", results: [(-1, EINTR), (-1, EINTR), (3, 0)], expected: .success(3),
    calls: 3),
  HelperRow(
    name: "EINTR not retried (close)", results: [(-1, EINTR)], retryOnInterrupt: false,
    expected: .failure(.interrupted), calls: 1),
  HelperRow(name: "EAGAIN thrown", results: [(-1, EAGAIN)], expected: .failure(.wouldBlock), calls: 1),
  HelperRow(
    name: "EINTR then EAGAIN", results: [(-1, EINTR), (-1, EAGAIN)], expected: .failure(.wouldBlock),
    calls: 2),
  HelperRow(name: "EPIPE thrown", results: [(-1, EPIPE)], expected: .failure(.brokenPipe), calls: 1),
]

@Suite(.serialized) struct SyscallTableTests {
  @Test(arguments: platformRows)
  func platformRow(_ row: PlatformRow) throws {
    var platform = try EpollReactor<ScriptedCalls>()
    let trigger = try platform.makeTrigger(for: Interrupt(1))
    ScriptedCalls.reset(row.script)
    var first = InterruptSet()
    switch row.setup {
    case .trigger:
      trigger.raise()
      platform.wait(.poll, raised: &first)
    case .pastDeadline:
      platform.wait(.deadline(platform.now() - .milliseconds(1)), raised: &first)
    }
    var second = InterruptSet()
    platform.wait(.poll, raised: &second)
    #expect(first.contains(Interrupt(1)) == row.raisedFirst)
    #expect(second.contains(Interrupt(1)) == row.raisedSecond)
    #expect(platform.counters.interruptedWaits == row.interruptedWaits)
    #expect(platform.counters.timerFires == row.timerFires)
    #expect(platform.counters.timerArms == row.timerArms)
    #expect(platform.counters.waits == 2)
    #expect(ScriptedCalls.calls == row.calls)
    let leftOver = ScriptedCalls.script.values.reduce(0) { $0 + $1.count }
    #expect(leftOver == 0, "script not used up")
  }

  @Test(arguments: helperRows)
  func helperRow(_ row: HelperRow) {
    var results = row.results[...]
    var calls = 0
    let outcome = systemCallResult(
      "helperRow", via: ScriptedCalls.self, retryOnInterrupt: row.retryOnInterrupt
    ) {
      () -> Int in
      calls += 1
      let next = results.removeFirst()
      ScriptedCalls.scriptedErrno = next.errno
      return next.value
    }
    #expect(outcome == row.expected)
    #expect(calls == row.calls)
    // The throwing form agrees.
    results = row.results[...]
    let thrown = Result { () throws(Errno) -> Int in
      try systemCall("helperRow", via: ScriptedCalls.self, retryOnInterrupt: row.retryOnInterrupt) {
        () -> Int in
        let next = results.removeFirst()
        ScriptedCalls.scriptedErrno = next.errno
        return next.value
      }
    }
    #expect(thrown == row.expected)
  }
}
