// Errno: the error every LoopLinux call throws, a typed wrapper over the C errno value. Its
// names and messages are static strings so it works in Embedded builds, which have no
// `String(describing:)` and must not allocate to report an error.

import CLinux

/// A C `errno` value, thrown by every system call wrapper in LoopLinux.
public struct Errno: Error, Equatable, Hashable, Sendable {
  /// The raw `errno` value.
  public var rawValue: Int32

  /// The error with raw value `rawValue`.
  public init(rawValue: Int32) { self.rawValue = rawValue }

  /// EINTR: a signal interrupted the call before it did anything.
  public static let interrupted = Errno(rawValue: EINTR)
  /// EAGAIN: a nonblocking fd has nothing to read or no room to write now.
  public static let wouldBlock = Errno(rawValue: EAGAIN)
  /// EBADF: not an open file descriptor (a bug when the fd is owned).
  public static let badFileDescriptor = Errno(rawValue: EBADF)
  /// ENOENT: no such file or directory.
  public static let noEntry = Errno(rawValue: ENOENT)
  /// EACCES: permission denied by file mode.
  public static let accessDenied = Errno(rawValue: EACCES)
  /// EPERM: operation not permitted.
  public static let notPermitted = Errno(rawValue: EPERM)
  /// EBUSY: the resource (a GPIO line, a device) is in use.
  public static let busy = Errno(rawValue: EBUSY)
  /// EPIPE: the read end of a pipe is closed.
  public static let brokenPipe = Errno(rawValue: EPIPE)
  /// EINVAL: an argument the kernel rejected.
  public static let invalidArgument = Errno(rawValue: EINVAL)
  /// EFAULT: a bad address (always a bug).
  public static let badAddress = Errno(rawValue: EFAULT)
  /// EIO: an I/O error from the device.
  public static let ioError = Errno(rawValue: EIO)
  /// ENODEV: no such device.
  public static let noDevice = Errno(rawValue: ENODEV)
  /// ENXIO: no such device or address.
  public static let noDeviceOrAddress = Errno(rawValue: ENXIO)
  /// ENOSPC: no space left; also thrown when one of the platform's fixed tables is full.
  public static let noSpace = Errno(rawValue: ENOSPC)
  /// EMFILE: the process has too many open file descriptors.
  public static let tooManyOpenFiles = Errno(rawValue: EMFILE)
  /// ENOMEM: the kernel is out of memory.
  public static let noMemory = Errno(rawValue: ENOMEM)
  /// EEXIST: already exists (an fd already in the epoll set).
  public static let exists = Errno(rawValue: EEXIST)
  /// ENOTDIR: a path component is not a directory.
  public static let notDirectory = Errno(rawValue: ENOTDIR)
  /// EISDIR: the path is a directory.
  public static let isDirectory = Errno(rawValue: EISDIR)
  /// ENOSYS: the kernel (or qemu-user) does not implement the call.
  public static let notImplemented = Errno(rawValue: ENOSYS)
  /// EOPNOTSUPP: operation not supported.
  public static let notSupported = Errno(rawValue: EOPNOTSUPP)
  /// ENOTTY: inappropriate ioctl for the device.
  public static let notTerminal = Errno(rawValue: ENOTTY)
  /// ETIMEDOUT: timed out.
  public static let timedOut = Errno(rawValue: ETIMEDOUT)

  /// The C macro name ("EAGAIN"), or "E?" for a value not named here.
  public var name: StaticString {
    switch rawValue {
    case EINTR: "EINTR"
    case EAGAIN: "EAGAIN"
    case EBADF: "EBADF"
    case ENOENT: "ENOENT"
    case EACCES: "EACCES"
    case EPERM: "EPERM"
    case EBUSY: "EBUSY"
    case EPIPE: "EPIPE"
    case EINVAL: "EINVAL"
    case EFAULT: "EFAULT"
    case EIO: "EIO"
    case ENODEV: "ENODEV"
    case ENXIO: "ENXIO"
    case ENOSPC: "ENOSPC"
    case EMFILE: "EMFILE"
    case ENOMEM: "ENOMEM"
    case EEXIST: "EEXIST"
    case ENOTDIR: "ENOTDIR"
    case EISDIR: "EISDIR"
    case ENOSYS: "ENOSYS"
    case EOPNOTSUPP: "EOPNOTSUPP"
    case ENOTTY: "ENOTTY"
    case ETIMEDOUT: "ETIMEDOUT"
    // What a socket's connect, send and receive fail with (the MQTT client's records).
    case ECONNREFUSED: "ECONNREFUSED"
    case ECONNRESET: "ECONNRESET"
    case ECONNABORTED: "ECONNABORTED"
    case ENETUNREACH: "ENETUNREACH"
    case EHOSTUNREACH: "EHOSTUNREACH"
    case ENOTCONN: "ENOTCONN"
    case EADDRNOTAVAIL: "EADDRNOTAVAIL"
    default: "E?"
    }
  }

  /// A short English message, as strerror would give (without allocating).
  public var message: StaticString {
    switch rawValue {
    case EINTR: "interrupted system call"
    case EAGAIN: "resource temporarily unavailable"
    case EBADF: "bad file descriptor"
    case ENOENT: "no such file or directory"
    case EACCES: "permission denied"
    case EPERM: "operation not permitted"
    case EBUSY: "device or resource busy"
    case EPIPE: "broken pipe"
    case EINVAL: "invalid argument"
    case EFAULT: "bad address"
    case EIO: "input/output error"
    case ENODEV: "no such device"
    case ENXIO: "no such device or address"
    case ENOSPC: "no space left (or a fixed table is full)"
    case EMFILE: "too many open files"
    case ENOMEM: "out of memory"
    case EEXIST: "already exists"
    case ENOTDIR: "not a directory"
    case EISDIR: "is a directory"
    case ENOSYS: "function not implemented"
    case EOPNOTSUPP: "operation not supported"
    case ENOTTY: "inappropriate ioctl for device"
    case ETIMEDOUT: "timed out"
    case ECONNREFUSED: "connection refused"
    case ECONNRESET: "connection reset by peer"
    case ECONNABORTED: "connection aborted"
    case ENETUNREACH: "network unreachable"
    case EHOSTUNREACH: "no route to host"
    case ENOTCONN: "not connected"
    case EADDRNOTAVAIL: "address not available"
    default: "unknown error"
    }
  }
}
