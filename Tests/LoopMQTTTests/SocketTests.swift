// LoopLinux's Socket.swift: address literals (never names), Unix paths, and a non-blocking
// connect over IPv6 loopback completed through a ReadinessGroup (IPv4 and Unix sockets are
// covered by the mosquitto tests).

import Foundation
import LoopLinux
import Testing

@Suite struct SocketTests {
  @Test func addressLiterals() throws {
    let v4 = try #require(SocketAddress.parse("192.168.1.10", port: 1883))
    #expect(v4.family == .ipv4 && v4.length == 4 && v4.port == 1883)
    #expect(v4.withBytes { Array($0) } == [192, 168, 1, 10])
    let v6 = try #require(SocketAddress.parse("::1", port: 8883))
    #expect(v6.family == .ipv6 && v6.length == 16)
    #expect(v6.withBytes { Array($0) } == [UInt8](repeating: 0, count: 15) + [1])
    #expect(SocketAddress.parse("fe80::1:2", port: 1)?.family == .ipv6)
    // Names are never resolved; malformed literals are refused.
    for text in ["localhost", "broker.local", "1.2.3", "256.1.1.1", "::g", "[::1]", "", " 1.2.3.4"] {
      #expect(Array(text.utf8).withUnsafeBytes { SocketAddress.parse(host: $0, port: 1) } == nil, "\(text)")
    }
    let long = [UInt8](repeating: 0x61, count: SocketAddress.unixPathCapacity + 1)
    #expect(long.withUnsafeBytes { SocketAddress.unix(path: $0) } == nil)
    #expect(long.dropLast().withUnsafeBytes { SocketAddress.unix(path: $0) }?.length == 107)
    #expect(SocketAddress.unix("/run/mosquitto/mosquitto.sock")?.family == .unix)
  }

  @Test func ipv6ConnectCompletesThroughTheGroup() throws {
    // A listener on [::1]; hosts without IPv6 loopback skip the rest.
    let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_addr = in6addr_loopback
    var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
    let listening = withUnsafeMutablePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
        bind(fd, a, length) == 0 && listen(fd, 4) == 0 && getsockname(fd, a, &length) == 0
      }
    }
    try #require(listening || errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)
    if !listening { return }
    let target = try #require(SocketAddress.parse("::1", port: UInt16(bigEndian: address.sin6_port)))
    let group = try ReadinessGroup()
    let stream = try StreamSocket(connectingTo: target)
    try group.add(stream.rawValue, for: .both)
    var connected = try stream.finishConnect()
    let end = Date().addingTimeInterval(5)
    while !connected && Date() < end {
      var pfd = pollfd(fd: group.descriptor, events: Int16(POLLIN), revents: 0)
      _ = poll(&pfd, 1, 100)
      group.drain()
      connected = try stream.finishConnect()
    }
    #expect(connected)
    let hello: StaticString = "hello"
    #expect(try stream.send(UnsafeRawBufferPointer(start: hello.utf8Start, count: 5)) == 5)
    let peer = accept(fd, nil, nil)
    var buffer = [UInt8](repeating: 0, count: 8)
    #expect(read(peer, &buffer, 8) == 5)
    close(peer)
    // The peer closed: readable, then end of file.
    var got: Int?
    var reads = 0
    repeat {
      var scratch = [UInt8](repeating: 0, count: 8)
      got = try scratch.withUnsafeMutableBytes { try stream.receive(into: $0) }
      reads += 1
      if got == nil { usleep(10_000) }
    } while got == nil && reads < 200
    #expect(got == 0)
  }
}
