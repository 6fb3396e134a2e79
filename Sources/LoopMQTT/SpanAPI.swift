// The client's span- and fixed-text-based face, for code above LoopMQTT that holds no raw
// pointer (the firmware's MQTT task in LoopTasks): publishing a topic built in fixed text with
// a span, a literal or a retained set's message as payload, and taking the next message as a
// copy into a fixed-buffer inbox slot (`ReceivedMessage`).

import LoopCore

/// A message from the broker, copied out of the client's inbox (`Client.nextMessage(_:into:)`):
/// a topic of up to 127 bytes and a payload of up to 255 (longer ones are cut and marked
/// `truncated`). No pointer into the client: it stays valid after the next call.
public struct ReceivedMessage: Sendable {
  /// The topic (its `truncated` set when the broker's was longer).
  public var topic = FixedText<128>()
  /// The payload (its `truncated` set when the broker's was longer).
  public var payload = FixedText<256>()
  /// Whether the broker sent it as a retained message.
  public var retain = false
  /// The QoS it arrived with.
  public var qos: UInt8 = 0

  /// An empty slot.
  public init() {}

  /// Calls `body` with the topic's bytes.
  public func withTopic<R>(_ body: (Span<UInt8>) -> R) -> R { topic.withBytes { body($0.span) } }

  /// Calls `body` with the payload's bytes.
  public func withPayload<R>(_ body: (Span<UInt8>) -> R) -> R { payload.withBytes { body($0.span) } }
}

extension Client {
  /// Copies the next message from the broker into `message`; false when none (then the calling
  /// task is woken when one arrives).
  public mutating func nextMessage<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>, into message: inout ReceivedMessage
  ) -> Bool {
    guard let m = nextMessage(&cx) else { return false }
    message.topic = FixedText(bytes: m.topic.assumingMemoryBound(to: UInt8.self))
    message.payload = FixedText(bytes: m.payload.assumingMemoryBound(to: UInt8.self))
    message.retain = m.retain
    message.qos = m.qos
    return true
  }

  /// `publish(_:topic:payload:qos:retain:)` with the topic in fixed text and the payload a span.
  public mutating func publish<S: Scheduler & ~Copyable, let n: Int>(
    _ cx: inout Context<S>, topic: FixedText<n>, payload: Span<UInt8>, qos: UInt8,
    retain: Bool = false
  ) -> PublishOutcome {
    payload.withUnsafeBytes { p in
      topic.withBytes { t in
        publish(&cx, topic: UnsafeRawBufferPointer(t), payload: p, qos: qos, retain: retain)
      }
    }
  }

  /// `publish(_:topic:payload:qos:retain:)` with the topic and the payload in fixed text.
  public mutating func publish<S: Scheduler & ~Copyable, let n: Int, let m: Int>(
    _ cx: inout Context<S>, topic: FixedText<n>, payload: FixedText<m>, qos: UInt8,
    retain: Bool = false
  ) -> PublishOutcome {
    payload.withBytes { p in publish(&cx, topic: topic, payload: p.span, qos: qos, retain: retain) }
  }

  /// `publish(_:topic:payload:qos:retain:)` with the topic in fixed text and a literal payload.
  public mutating func publish<S: Scheduler & ~Copyable, let n: Int>(
    _ cx: inout Context<S>, topic: FixedText<n>, payload: StaticString, qos: UInt8,
    retain: Bool = false
  ) -> PublishOutcome {
    let p = UnsafeRawBufferPointer(start: payload.utf8Start, count: payload.utf8CodeUnitCount)
    return topic.withBytes { t in
      publish(&cx, topic: UnsafeRawBufferPointer(t), payload: p, qos: qos, retain: retain)
    }
  }

  /// Publishes the message at `offset` of `set` (`RetainedSet.sizes(at:)` gives the next).
  /// `.dropped` past the last message.
  public mutating func publish<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>, _ set: borrowing RetainedSet, messageAt offset: Int, qos: UInt8,
    retain: Bool = true
  ) -> PublishOutcome {
    guard let m = set.raw(at: offset) else { return .dropped }
    return publish(&cx, topic: m.topic, payload: m.payload, qos: qos, retain: retain)
  }
}
