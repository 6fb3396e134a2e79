// RetainedSet: retained messages (Home Assistant discovery configs) laid out once at startup
// in one anonymous mapping and published again after every connect. It lives here, beside the
// client, so the firmware's MQTT task publishes them by offset (`Client.publish(_:messageAt:)`)
// without handling a raw pointer.

import CLinux
import LoopCore
import LoopLinux

/// Retained messages published after every connect, laid out at startup in one anonymous
/// mapping: per message a 2-byte topic length, a 2-byte payload length, the topic, the payload.
public struct RetainedSet: ~Copyable {
  // SAFETY: `bytes` bytes mapped at init, owned by this value, unmapped in deinit; reads stay
  // below `used`.
  private let base: UnsafeMutableRawPointer?
  private let bytes: Int
  /// Bytes laid out.
  public private(set) var used = 0
  /// Messages laid out.
  public private(set) var count = 0

  /// Room for `capacity` bytes of messages (nothing mapped for 0). Throws what mmap throws.
  public init(capacity: Int) throws(Errno) {
    bytes = capacity
    if capacity == 0 {
      base = nil
      return
    }
    guard let mapped = cl_mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      mapped != UnsafeMutableRawPointer(bitPattern: -1)
    else { throw Errno(rawValue: cl_errno()) }
    base = mapped
  }

  deinit {
    if let base { _ = cl_munmap(base, bytes) }
  }

  /// Adds a message (at startup); false when it does not fit.
  public mutating func add(topic: Span<UInt8>, payload: Span<UInt8>) -> Bool {
    topic.withUnsafeBytes { t in payload.withUnsafeBytes { p in add(topic: t, payload: p) } }
  }

  /// Adds a message (at startup); false when it does not fit.
  public mutating func add(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> Bool {
    guard let base, topic.count <= 65_535, payload.count <= 65_535,
      bytes - used >= 4 + topic.count + payload.count
    else { return false }
    let at = base + used
    // Lengths big-endian, byte by byte (messages are not aligned).
    at.storeBytes(of: UInt8(topic.count >> 8), toByteOffset: 0, as: UInt8.self)
    at.storeBytes(of: UInt8(topic.count & 0xFF), toByteOffset: 1, as: UInt8.self)
    at.storeBytes(of: UInt8(payload.count >> 8), toByteOffset: 2, as: UInt8.self)
    at.storeBytes(of: UInt8(payload.count & 0xFF), toByteOffset: 3, as: UInt8.self)
    if topic.count > 0 { (at + 4).copyMemory(from: topic.baseAddress!, byteCount: topic.count) }
    if payload.count > 0 {
      (at + 4 + topic.count).copyMemory(from: payload.baseAddress!, byteCount: payload.count)
    }
    used += 4 + topic.count + payload.count
    count += 1
    return true
  }

  /// The sizes of the message at `offset` and the offset of the next, or nil past the last.
  public func sizes(at offset: Int) -> (topic: Int, payload: Int, next: Int)? {
    guard let base, offset >= 0, offset < used else { return nil }
    let at = base + offset
    let t =
      Int(at.load(fromByteOffset: 0, as: UInt8.self)) << 8 | Int(at.load(fromByteOffset: 1, as: UInt8.self))
    let p =
      Int(at.load(fromByteOffset: 2, as: UInt8.self)) << 8 | Int(at.load(fromByteOffset: 3, as: UInt8.self))
    return (t, p, offset + 4 + t + p)
  }

  /// Calls `body` with the topic and payload of the message at `offset` (nil past the last).
  public func withMessage<R>(at offset: Int, _ body: (Span<UInt8>, Span<UInt8>) -> R) -> R? {
    guard let m = raw(at: offset) else { return nil }
    return body(
      m.topic.assumingMemoryBound(to: UInt8.self).span, m.payload.assumingMemoryBound(to: UInt8.self).span)
  }

  /// The message at `offset` as raw bytes (valid while the set lives), or nil past the last.
  func raw(at offset: Int) -> (topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer)? {
    guard let base, let s = sizes(at: offset) else { return nil }
    let at = base + offset
    return (
      UnsafeRawBufferPointer(start: at + 4, count: s.topic),
      UnsafeRawBufferPointer(start: at + 4 + s.topic, count: s.payload)
    )
  }
}
