// From a source's sample to its record: each channel's value goes through that channel's own
// filter chain, and what passes goes into one record, so a BME280's temperature, humidity and
// pressure arrive together. A one-channel source writes `value` and `unit` as the sampler does;
// a source of several channels writes each value under its channel's key:
//
//   {"t_ns":…,"task":"air","event":"reading","temperature":21.370,"humidity":45.123,"pressure":100.769}
//   {"t_ns":…,"task":"tank","event":"reading","value":21.375,"unit":"°C"}
//   {"t_ns":…,"task":"tank","event":"error","error":"no_data","channel":"temperature"}
//
// A heartbeat's repeat is a reading with `"repeat":true`. Values print with 3 decimals, as the
// sampler's do.

import LoopCore

/// The values of one sample (or of heartbeat repeats) that passed the filters.
public struct SensorValues: Sendable {
  /// The time the values stand for: the sample's tick, or the heartbeat's due time.
  public var time: Instant
  /// The values, by channel; only those in `passed` mean anything.
  public var values = InlineArray<4, Double>(repeating: 0)
  /// Bit `i` set: channel `i`'s value passed.
  public var passed: UInt8 = 0

  /// No values, at `time`.
  public init(time: Instant) { self.time = time }

  /// Whether any value passed (a record is worth emitting).
  public var isEmpty: Bool { passed == 0 }

  /// Whether channel `i`'s value passed.
  public func has(_ i: Int) -> Bool { passed & (1 << UInt8(i)) != 0 }
}

/// One filter chain per channel of a source.
public struct SensorFilters: Sendable {
  private var chains = InlineArray<4, FilterChain>(first: FilterChain()) { $0 }

  /// No filters: every value passes as read.
  public init() {}

  /// Sets channel `channel`'s chain.
  public mutating func set(_ chain: FilterChain, channel: Int) {
    precondition(channel >= 0 && channel < SensorSource.maxChannels, "SensorFilters.set: channel")
    chains[channel] = chain
  }

  /// Feeds a successful sample's values (taken at its tick) through the chains.
  public mutating func filter(_ sample: SensorSample) -> SensorValues {
    var out = SensorValues(time: sample.tick)
    guard case .none = sample.failure else { return out }
    for i in 0..<sample.count {
      if let value = chains[i].feed(sample.values[i], at: sample.tick) {
        out.values[i] = value
        out.passed |= 1 << UInt8(i)
      }
    }
    return out
  }

  /// When the earliest heartbeat of any channel falls due (nil: none).
  public var nextDue: Instant? {
    var earliest: Instant? = nil
    for i in 0..<SensorSource.maxChannels {
      guard let due = chains[i].nextDue else { continue }
      if earliest == nil || due < earliest! { earliest = due }
    }
    return earliest
  }

  /// The repeats due at `now`, one per channel at most, stamped with the earliest due time
  /// among them; nil when none is due (or a later filter dropped every repeat).
  public mutating func repeats(now: Instant) -> SensorValues? {
    var out = SensorValues(time: .distantFuture)
    for i in 0..<SensorSource.maxChannels {
      guard let due = chains[i].nextDue, due <= now else { continue }
      guard let repeated = chains[i].poll(now: now) else { continue }
      out.values[i] = repeated.value
      out.passed |= 1 << UInt8(i)
      if repeated.time < out.time { out.time = repeated.time }
    }
    return out.isEmpty ? nil : out
  }
}

/// Writing a source's records.
public enum SensorRecord {
  /// Adds a reading's fields to `record` (already stamped and named): `"event":"reading"`, then
  /// `value` and `unit` for a one-channel source, or each passed value under its channel's key;
  /// `"repeat":true` for a heartbeat's repeat.
  public static func reading(
    _ values: SensorValues, of source: SensorSource, repeated: Bool, into record: inout RecordLine
  ) {
    record.field("event", "reading")
    if source.count == 1 {
      if values.has(0) {
        record.field("value", values.values[0], decimals: 3)
        record.field("unit", source[0].unit)
      }
    } else {
      for i in 0..<source.count where values.has(i) {
        record.append(",\"")
        record.append(source[i].key)
        record.append("\":")
        record.append(decimal: values.values[i], decimals: 3)
      }
    }
    if repeated { record.field("repeat", bool: true) }
  }

  /// Adds an error's fields to `record`: `"event":"error"`, what failed, the channel's key and
  /// the errno when there is one.
  public static func error(_ failure: SensorReadError, of source: SensorSource, into record: inout RecordLine)
  {
    record.field("event", "error")
    record.field("error", failure.what)
    if failure.channel < source.count { record.field("channel", source[failure.channel].key) }
    if failure.errno != 0 { record.field("errno", integer: Int64(failure.errno)) }
  }
}
