// Reading a resolved source off the loop: each channel's file goes to the worker in turn (one
// slot per source, one request at a time), and the sample is whole once the last channel is
// back. A DS18B20's read sleeps in the kernel for its conversion (~750 ms) on a worker thread,
// never on the loop. A CRC or bus error is an error sample, never a value.
//
//            start (tick)                 collect: channel i back, i + 1 < count
//   idle --------------------> channel 0 -------------------------------------> channel i + 1
//    ^                              |                                                |
//    |   collect: last channel back, or one failed (the sample is returned)          |
//    +---------------------------------------------------------------------------------+

import LoopCore
import LoopLinux

/// Whole-file reads done off the loop into fixed slots: what `BlockingWorker` offers, as a
/// protocol so tests can answer in virtual time.
public protocol FileReadService: ~Copyable {
  /// Asks for `path` to be read, up to `maxBytes` bytes, into `slot`; `waker` is woken when it
  /// is done. False when the slot is busy or the path does not fit.
  mutating func submitRead<let n: Int>(slot: Int, path: borrowing FixedText<n>, maxBytes: Int, waker: Waker)
    -> Bool
  /// The result of `slot`'s read once done (the slot is idle again), nil while in flight.
  mutating func collect(_ slot: Int) -> WorkResult?
  /// The first `count` bytes `slot`'s read returned.
  func withData<R>(_ slot: Int, count: Int, _ body: (Span<UInt8>) -> R) -> R
}

extension BlockingWorker: FileReadService {}

/// Why a sample failed.
public struct SensorReadError: Error, Equatable, Sendable {
  /// What went wrong, as the record says it: `missing` (the file is gone: unplugged),
  /// `read` (the read failed: see errno), `no_data` (w1_therm's empty answer to a CRC or bus
  /// error), `crc` (`w1_slave` said NO), `disconnected` (an all-zero scratchpad), `not a number`,
  /// `too long`, `busy` (the slot was taken: a wiring bug).
  public var what: StaticString
  /// The errno of a failed read, 0 when none.
  public var errno: Int32
  /// The channel that failed.
  public var channel: Int

  public static func == (lhs: SensorReadError, rhs: SensorReadError) -> Bool {
    lhs.errno == rhs.errno && lhs.channel == rhs.channel && sameText(lhs.what, rhs.what)
  }
}

/// One sample of a source: every channel's value, or the error that ended it.
public struct SensorSample: Sendable {
  /// The tick the sample was asked for (its records are stamped with it).
  public var tick: Instant
  /// The values, by channel (`count` of them when the sample succeeded).
  public var values = InlineArray<4, Double>(repeating: 0)
  /// Channels read.
  public var count = 0
  /// Why the sample failed, nil when every channel was read.
  public var failure: SensorReadError?
  /// When the last read finished (from the worker's clock): `finished - tick` is the read time.
  public var finished: Instant
}

/// Reads a resolved `SensorSource` through a `FileReadService`, one channel after another.
public struct SensorReader: Sendable {
  /// The longest file a channel read takes (`w1_slave` is about 75 bytes).
  public static let readBytes = 128

  /// The source read.
  public let source: SensorSource
  /// The worker slot this reader owns.
  public let slot: Int
  /// The tick of the sample in flight, nil when idle.
  public private(set) var inFlight: Instant?
  private var sample = SensorSample(tick: .zero, finished: .zero)

  /// A reader of `source` through worker slot `slot`.
  public init(source: SensorSource, slot: Int) {
    self.source = source
    self.slot = slot
  }

  /// Starts the sample of `tick`: submits channel 0's read. False (nothing started) when a
  /// sample is still in flight: the caller reports that tick as busy.
  public mutating func start<F: FileReadService & ~Copyable>(_ files: inout F, tick: Instant, waker: Waker)
    -> Bool
  {
    guard inFlight == nil else { return false }
    inFlight = tick
    sample = SensorSample(tick: tick, finished: tick)
    if !submit(&files, channel: 0, waker: waker) {
      sample.failure = SensorReadError(what: "busy", errno: 0, channel: 0)
    }
    return true
  }

  /// The sample once its last channel is back (or one failed), submitting the next channel's
  /// read meanwhile; nil while it is in flight. Call it when woken.
  public mutating func collect<F: FileReadService & ~Copyable>(_ files: inout F, waker: Waker)
    -> SensorSample?
  {
    guard inFlight != nil else { return nil }
    while case .none = sample.failure {
      guard let result = files.collect(slot) else { return nil }
      sample.finished = result.finished
      let channel = sample.count
      let decoded: Result<Double, SensorReadError>
      if result.errno != 0 {
        let what: StaticString = Errno(rawValue: result.errno) == .noEntry ? "missing" : "read"
        decoded = .failure(SensorReadError(what: what, errno: result.errno, channel: channel))
      } else {
        decoded = files.withData(slot, count: result.count) { bytes in
          SensorReader.decode(source[channel], bytes, channel: channel)
        }
      }
      switch decoded {
      case .failure(let error):
        sample.failure = error
      case .success(let value):
        sample.values[channel] = value
        sample.count += 1
        if sample.count == source.count { return finish() }
        if !submit(&files, channel: sample.count, waker: waker) {
          sample.failure = SensorReadError(what: "busy", errno: 0, channel: sample.count)
        }
      }
    }
    return finish()
  }

  private mutating func finish() -> SensorSample {
    inFlight = nil
    return sample
  }

  @inline(never)
  private mutating func submit<F: FileReadService & ~Copyable>(_ files: inout F, channel: Int, waker: Waker)
    -> Bool
  {
    files.submitRead(slot: slot, path: source[channel].path, maxBytes: SensorReader.readBytes, waker: waker)
  }

  /// The value of `channel` from the bytes its file gave, or why there is none.
  @inline(never)
  public static func decode(_ channel: SensorChannel, _ bytes: Span<UInt8>, channel index: Int)
    -> Result<Double, SensorReadError>
  {
    if bytes.count == 0 {
      // w1_therm answers a failed conversion (bad CRC, sensor gone from the bus) with nothing.
      return .failure(SensorReadError(what: "no_data", errno: 0, channel: index))
    }
    if bytes.count >= readBytes {
      return .failure(SensorReadError(what: "too long", errno: 0, channel: index))
    }
    switch channel.format {
    case .number:
      guard bytes.count < Sampler.readBytes else {
        return .failure(SensorReadError(what: "too long", errno: 0, channel: index))
      }
      var buffer = InlineArray<64, UInt8>(repeating: 0)
      for i in 0..<bytes.count { buffer[i] = bytes[i] }
      guard let raw = parseNumber(buffer, count: bytes.count) else {
        return .failure(SensorReadError(what: "not a number", errno: 0, channel: index))
      }
      return .success(channel.value(raw: raw))
    case .w1Slave:
      return decodeW1Slave(channel, bytes, channel: index)
    }
  }

  /// `w1_slave`: `72 01 4b 46 7f ff 0e 10 57 : crc=57 YES` then `72 01 … t=23125`.
  static func decodeW1Slave(_ channel: SensorChannel, _ bytes: Span<UInt8>, channel index: Int)
    -> Result<Double, SensorReadError>
  {
    var lineEnd = 0
    while lineEnd < bytes.count && bytes[lineEnd] != 0x0A { lineEnd += 1 }
    // The first line ends with YES when the scratchpad's CRC matched.
    var end = lineEnd
    while end > 0 && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x0D) { end -= 1 }
    let yes = end >= 3 && bytes[end - 3] == 0x59 && bytes[end - 2] == 0x45 && bytes[end - 1] == 0x53
    guard yes else { return .failure(SensorReadError(what: "crc", errno: 0, channel: index)) }
    // A sensor gone from the bus reads as nine zero bytes, whose CRC is also zero ("YES").
    var zero = true
    var digits = 0
    var i = 0
    while i < lineEnd && bytes[i] != 0x3A {
      let b = bytes[i]
      if b != 0x30 && b != 0x20 { zero = false }
      if b != 0x20 { digits += 1 }
      i += 1
    }
    if zero && digits > 0 { return .failure(SensorReadError(what: "disconnected", errno: 0, channel: index)) }
    // The value follows `t=` on the second line.
    var t = lineEnd + 1
    while t + 1 < bytes.count && !(bytes[t] == 0x74 && bytes[t + 1] == 0x3D) { t += 1 }
    guard t + 1 < bytes.count else {
      return .failure(SensorReadError(what: "not a number", errno: 0, channel: index))
    }
    var buffer = InlineArray<64, UInt8>(repeating: 0)
    var n = 0
    var k = t + 2
    while k < bytes.count && n < 63 {
      buffer[n] = bytes[k]
      n += 1
      k += 1
    }
    guard let raw = parseNumber(buffer, count: n) else {
      return .failure(SensorReadError(what: "not a number", errno: 0, channel: index))
    }
    return .success(channel.value(raw: raw))
  }
}
