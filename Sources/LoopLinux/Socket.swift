// Non-blocking stream sockets: TCP to an IPv4 or IPv6 address, or a Unix socket path, for clients
// on the loop (the MQTT client). Nothing here blocks: `connect` returns at once (a TCP connect
// usually completes later, when the socket becomes writable, and `finishConnect` reads how it
// ended), sends and receives say "nothing now" instead of waiting. Names are never resolved here:
// an address is a literal (`SocketAddress.parse`), because getaddrinfo blocks for as long as DNS
// takes and there is no non-blocking resolver in libc.
//
// `ReadinessGroup` lets a task watch sockets it opens and closes while the loop runs, without
// reaching the platform: an epoll set of its own, which the platform watches once, at startup, as
// one readable fd on one interrupt line. Any readiness of a socket in the group raises that line.

import CLinux
import LoopCore

/// Where a stream socket connects: an IPv4 or IPv6 address and port, or a Unix socket path.
/// Fixed size, no allocation.
public struct SocketAddress: Sendable {
  /// The address family.
  public enum Family: Sendable, Equatable {
    case ipv4, ipv6, unix
  }

  /// The family.
  public let family: Family
  /// The TCP port (0 for a Unix socket).
  public let port: UInt16
  /// 4 or 16 address bytes in network order, or the Unix path's bytes (no NUL).
  private var storage = InlineArray<108, UInt8>(repeating: 0)
  /// How many bytes of `storage` are used.
  public private(set) var length = 0

  /// The longest Unix socket path (107 bytes on Linux: sun_path less its NUL).
  public static var unixPathCapacity: Int { Int(cl_unix_path_capacity()) - 1 }

  private init(family: Family, port: UInt16) {
    self.family = family
    self.port = port
  }

  /// The Unix socket at `path` (its bytes, no NUL); nil when longer than `unixPathCapacity` or
  /// empty.
  public static func unix(path: UnsafeRawBufferPointer) -> SocketAddress? {
    if path.count == 0 || path.count > unixPathCapacity { return nil }
    var address = SocketAddress(family: .unix, port: 0)
    for i in 0..<path.count { address.storage[i] = path[i] }
    address.length = path.count
    return address
  }

  /// `host` as an IPv4 literal (`192.168.1.10`) or an IPv6 literal (`::1`, `fe80::1`, without
  /// brackets) with `port`; nil when it is neither (a name: not resolved here). The
  /// corresponding C function is `inet_pton`.
  public static func parse(host: UnsafeRawBufferPointer, port: UInt16) -> SocketAddress? {
    // inet_pton wants a NUL-terminated string; the longest IPv6 literal is 45 characters.
    var text = InlineArray<64, UInt8>(repeating: 0)
    if host.count == 0 || host.count >= 64 { return nil }
    for i in 0..<host.count {
      if host[i] == 0 { return nil }
      text[i] = host[i]
    }
    // Two tries, IPv4 then IPv6, written out: an array literal of them would allocate.
    for attempt in 0..<2 {
      let family: Family = attempt == 0 ? .ipv4 : .ipv6
      var address = SocketAddress(family: family, port: port)
      let cFamily = attempt == 0 ? AF_INET : AF_INET6
      let ok = withUnsafeBytes(of: &text) { name in
        withUnsafeMutableBytes(of: &address.storage) { out in
          // SAFETY: `name` is NUL-terminated (64 bytes, at most 63 used); `out` has 108 bytes,
          // inet_pton writes 4 or 16.
          cl_inet_pton(cFamily, name.baseAddress!.assumingMemoryBound(to: CChar.self), out.baseAddress)
        }
      }
      if ok == 1 {
        address.length = attempt == 0 ? 4 : 16
        return address
      }
    }
    return nil
  }

  /// `parse(host:port:)` for a literal in the program.
  public static func parse(_ host: StaticString, port: UInt16) -> SocketAddress? {
    parse(host: UnsafeRawBufferPointer(start: host.utf8Start, count: host.utf8CodeUnitCount), port: port)
  }

  /// `unix(path:)` for a literal in the program.
  public static func unix(_ path: StaticString) -> SocketAddress? {
    unix(path: UnsafeRawBufferPointer(start: path.utf8Start, count: path.utf8CodeUnitCount))
  }

  /// Calls `body` with the address bytes (4, 16, or the path).
  public func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
    var copy = storage
    let count = length
    return withUnsafeBytes(of: &copy) { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
  }
}

/// A connected (or connecting) non-blocking stream socket it owns; closed when dropped.
public struct StreamSocket: ~Copyable {
  /// The socket.
  public let descriptor: FileDescriptor
  /// Whether the connect completed at once (a Unix socket does; TCP, even on loopback, usually
  /// completes later: `finishConnect` once the socket is writable).
  public let connectedAtOnce: Bool

  /// Starts connecting to `address`: a new non-blocking, close-on-exec socket, TCP_NODELAY on
  /// TCP. Returns at once; `connectedAtOnce` says whether the connect already completed. Throws the
  /// connect's error when it failed at once (ECONNREFUSED from a Unix socket nobody listens on,
  /// ENOENT for a missing path, ENETUNREACH). The corresponding C functions are `socket` and
  /// `connect`.
  public init(connectingTo address: SocketAddress) throws(Errno) {
    let domain: Int32
    switch address.family {
    case .ipv4: domain = AF_INET
    case .ipv6: domain = AF_INET6
    case .unix: domain = AF_UNIX
    }
    let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    let fd = try systemCall("StreamSocket.init: socket") { cl_socket(domain, type, 0) }
    let descriptor = FileDescriptor(adopting: fd)
    if address.family != .unix { _ = cl_tcp_nodelay(fd) }
    let port = address.port
    let result = address.withBytes { bytes in
      // SAFETY: `bytes` covers the address (4 or 16 bytes, or the path) during the call.
      systemCallResult("StreamSocket.init: connect", via: LinuxCalls.self) { () -> Int32 in
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        switch address.family {
        case .ipv4: return cl_connect_ipv4(fd, base, port)
        case .ipv6: return cl_connect_ipv6(fd, base, port)
        case .unix:
          return cl_connect_unix(
            fd, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        }
      }
    }
    switch result {
    case .success: connectedAtOnce = true
    case .failure(inProgress): connectedAtOnce = false
    case .failure(let error): throw error
    }
    self.descriptor = descriptor
  }

  /// The fd number.
  public var rawValue: Int32 { descriptor.rawValue }

  /// Reads how a pending connect ended, once the socket is writable (or reports an error):
  /// true when connected, false when still in progress; throws the connect's error
  /// (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH). The corresponding C function is `getsockopt`
  /// with `SO_ERROR`.
  public func finishConnect() throws(Errno) -> Bool {
    if connectedAtOnce { return true }
    var error: Int32 = 0
    _ = try systemCall("StreamSocket.finishConnect") { cl_socket_error(descriptor.rawValue, &error) }
    if error == 0 {
      // SO_ERROR is 0 both when connected and while still in progress; a zero-length send
      // tells them apart (ENOTCONN while in progress) without sending anything.
      let probe = systemCallResult("StreamSocket.finishConnect: send", via: LinuxCalls.self) {
        cl_send_nosignal(descriptor.rawValue, nil, 0)
      }
      switch probe {
      case .success: return true
      case .failure(notConnected), .failure(.wouldBlock): return false
      case .failure(let e): throw e
      }
    }
    let failure = Errno(rawValue: error)
    if failure == inProgress || failure == alreadyInProgress { return false }
    throw failure
  }

  /// Sends up to `bytes.count` bytes; nil when the socket has no room now (EAGAIN). A peer
  /// that went away throws `.brokenPipe` or `.connectionReset`, never raises SIGPIPE.
  /// The corresponding C function is `send` with MSG_NOSIGNAL.
  public func send(_ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int? {
    let outcome = systemCallResult("StreamSocket.send", via: LinuxCalls.self) {
      cl_send_nosignal(descriptor.rawValue, bytes.baseAddress, bytes.count)
    }
    switch outcome {
    case .success(let count): return count
    case .failure(.wouldBlock): return nil
    case .failure(let error): throw error
    }
  }

  /// Receives up to `buffer.count` bytes: 0 means the peer closed; nil when nothing is there
  /// now (EAGAIN). The corresponding C function is `read`.
  public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
    try descriptor.tryRead(into: buffer)
  }
}

/// A set of fds a task watches itself: an epoll fd of its own, which the platform watches once
/// (`EpollPlatform.watch(group.descriptor, as: line, for: .readable)`), so any readiness of a
/// member raises that one line. Members are added and removed at any time, from a task, with no
/// access to the platform; they are edge-triggered, like the platform's own watches. Owns its
/// epoll fd; never allocates.
public struct ReadinessGroup: ~Copyable {
  private let epoll: FileDescriptor

  /// A new, empty group. The corresponding C function is `epoll_create1`.
  public init() throws(Errno) {
    let fd = try systemCall("ReadinessGroup.init") { cl_epoll_create1(Int32(EPOLL_CLOEXEC)) }
    epoll = FileDescriptor(adopting: fd)
  }

  /// The fd the platform watches (readable while any member is ready and not yet drained).
  public var descriptor: Int32 { epoll.rawValue }

  /// Adds `fd` (owned by the caller; remove it before closing it, or let the close remove it),
  /// reporting when it becomes readable, writable, or fails. The corresponding C function is
  /// `epoll_ctl`.
  public func add(_ fd: Int32, for readiness: Readiness) throws(Errno) {
    var event = epoll_event()
    event.events = EPOLLET.rawValue | EPOLLRDHUP.rawValue
    switch readiness {
    case .readable: event.events |= EPOLLIN.rawValue
    case .writable: event.events |= EPOLLOUT.rawValue
    case .both: event.events |= EPOLLIN.rawValue | EPOLLOUT.rawValue
    }
    event.data.u64 = UInt64(UInt32(bitPattern: fd))
    let epfd = epoll.rawValue
    _ = try systemCall("ReadinessGroup.add") { cl_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) }
  }

  /// Removes `fd`; a missing fd is not an error. The corresponding C function is `epoll_ctl`.
  public func remove(_ fd: Int32) {
    var event = epoll_event()
    _ = cl_epoll_ctl(epoll.rawValue, EPOLL_CTL_DEL, fd, &event)
  }

  /// Takes every pending readiness report (so the group's fd stops being readable and the next
  /// readiness raises the platform's line again) and returns how many there were. Never blocks.
  @discardableResult
  public func drain() -> Int {
    var total = 0
    var batch = InlineArray<8, epoll_event>(repeating: epoll_event())
    while true {
      let epfd = epoll.rawValue
      let count = withUnsafeMutableBytes(of: &batch) { raw in
        // SAFETY: `raw` covers the batch of 8 events for the call.
        cl_epoll_wait(epfd, raw.baseAddress!.assumingMemoryBound(to: epoll_event.self), 8, 0)
      }
      if count <= 0 { return total }
      total += Int(count)
      if count < 8 { return total }
    }
  }
}

/// EINPROGRESS: a non-blocking connect goes on in the background.
private let inProgress = Errno(rawValue: EINPROGRESS)
/// EALREADY.
private let alreadyInProgress = Errno(rawValue: EALREADY)
/// ENOTCONN.
private let notConnected = Errno(rawValue: ENOTCONN)
