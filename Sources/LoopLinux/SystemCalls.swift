// The one path every system call takes: run the C call, read errno at once, retry EINTR where
// that is right, throw a typed `Errno`. The calls the epoll platform makes on its hot path go
// through `SystemCalls`, a protocol with only static requirements: production code uses
// `LinuxCalls` (each requirement an inlined forward to the shim, so the indirection costs
// nothing once specialised), and tests substitute a scripted layer to drive EINTR and EAGAIN.

import CLinux
import LoopCore

/// The system calls the epoll platform makes while it runs, as static functions a test can replace.
///
/// Each has the C call's shape: a result, and -1 with `lastErrno()` set on failure.
public protocol SystemCalls {
  /// The calling thread's `errno`, read right after a failed call.
  static func lastErrno() -> Int32
  /// The monotonic clock. The corresponding C function is `clock_gettime(CLOCK_MONOTONIC)`.
  static func now() -> Instant
  /// The corresponding C function is `read`.
  static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int
  /// The corresponding C function is `epoll_wait`.
  static func epollWait(
    _ epfd: Int32, _ events: UnsafeMutablePointer<epoll_event>?, _ max: Int32, _ timeout: Int32
  ) -> Int32
  /// The corresponding C function is `timerfd_settime`.
  static func timerfdSetTime(_ fd: Int32, _ flags: Int32, _ value: UnsafePointer<itimerspec>) -> Int32
}

/// The real system calls, forwarded to the CLinux shim.
public enum LinuxCalls: SystemCalls {
  @inline(__always)
  /// `errno`, through the shim.
  public static func lastErrno() -> Int32 { cl_errno() }

  @inline(__always)
  /// CLOCK_MONOTONIC, through the shim.
  public static func now() -> Instant { monotonicNow() }

  @inline(__always)
  /// The corresponding C function is `read`.
  public static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    cl_read(fd, buffer, count)
  }

  @inline(__always)
  /// The corresponding C function is `epoll_wait`.
  public static func epollWait(
    _ epfd: Int32, _ events: UnsafeMutablePointer<epoll_event>?, _ max: Int32, _ timeout: Int32
  ) -> Int32 {
    cl_epoll_wait(epfd, events, max, timeout)
  }

  @inline(__always)
  /// The corresponding C function is `timerfd_settime`.
  public static func timerfdSetTime(_ fd: Int32, _ flags: Int32, _ value: UnsafePointer<itimerspec>)
    -> Int32
  {
    cl_timerfd_settime(fd, flags, value, nil)
  }
}

/// Runs `call` (one C call returning -1 and setting errno on failure) through `Sys`: errno is
/// read at once, EINTR is retried when `retryOnInterrupt` (never for `close`), and EBADF or
/// EFAULT, which only a bug can cause on an fd we own, trap with `function` as the message.
///
/// Returns the failure instead of throwing it, for paths where an error is expected every time
/// (EAGAIN ends every drain of an edge-triggered fd): a throw is cheap, but a test harness may
/// hook every throw (Swift Testing captures a backtrace, which allocates).
@inline(__always)
public func systemCallResult<Sys: SystemCalls, Value: FixedWidthInteger>(
  _ function: StaticString, via sys: Sys.Type, retryOnInterrupt: Bool = true,
  _ call: () -> Value
) -> Result<Value, Errno> {
  while true {
    let result = call()
    if result != -1 { return .success(result) }
    if let error = callFailed(function, via: sys, retryOnInterrupt: retryOnInterrupt) {
      return .failure(error)
    }
  }
}

/// What the `errno` of the call that just failed means (read first thing, before any other
/// call): nil to retry (EINTR when `retryOnInterrupt`), else the error; EBADF and EFAULT trap.
/// Out of line, errno read included: every system call site shares it (about 60 call sites in
/// the board binary).
@inline(never)
package func callFailed<Sys: SystemCalls>(_ function: StaticString, via sys: Sys.Type, retryOnInterrupt: Bool)
  -> Errno?
{
  let error = Errno(rawValue: Sys.lastErrno())
  if error == .interrupted && retryOnInterrupt { return nil }
  if error == .badFileDescriptor || error == .badAddress { bug(function) }
  return error
}

/// `systemCallResult`, throwing the failure.
@inline(__always)
public func systemCall<Sys: SystemCalls, Value: FixedWidthInteger>(
  _ function: StaticString, via sys: Sys.Type, retryOnInterrupt: Bool = true,
  _ call: () -> Value
) throws(Errno) -> Value {
  switch systemCallResult(function, via: sys, retryOnInterrupt: retryOnInterrupt, call) {
  case .success(let value): return value
  case .failure(let error): throw error
  }
}

/// `systemCall` through the real system calls.
@inline(__always)
public func systemCall<Value: FixedWidthInteger>(
  _ function: StaticString, retryOnInterrupt: Bool = true, _ call: () -> Value
) throws(Errno) -> Value {
  try systemCall(function, via: LinuxCalls.self, retryOnInterrupt: retryOnInterrupt, call)
}

/// Stops the program on a programmer error, naming the function that found it.
@inline(never)
package func bug(_ message: StaticString) -> Never {
  #if hasFeature(Embedded)
    fatalError(message)
  #else
    fatalError(message.description)
  #endif
}

/// The current time on CLOCK_MONOTONIC. The corresponding C function is `clock_gettime`.
@inline(__always)
public func monotonicNow() -> Instant {
  var now = timespec()
  // A monotonic clock read cannot fail with a valid pointer and clock id.
  _ = cl_clock_gettime(CLOCK_MONOTONIC, &now)
  return Instant(nanoseconds: Int64(now.tv_sec) &* 1_000_000_000 &+ Int64(now.tv_nsec))
}
