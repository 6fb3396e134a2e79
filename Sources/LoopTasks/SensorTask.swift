// The task a source preset becomes: every period it starts a sample of its resolved source
// through the world's worker (its own slot: its task index), and when the worker is done it
// filters the values and emits one record, stamped with the tick the sample was asked for, plus
// `read_us`. Heartbeat repeats come on their own deadlines. A tick that finds the previous
// sample still in flight (a DS18B20 slower than its conversion time) submits nothing and emits
// a `busy` record, as the sampler does.
//
// The `sensor` task kind (LoopConfig/Kinds/Sensor.swift) builds one. A `SensorTask` (its source's
// channels and paths, a filter chain per value: about 5.7 KB) is too big for an executor slot,
// whose size every task pays: it lives in `FirmwareWorld.sensors`, and the `FirmwareTask`
// case holds a `SensorSlot`, its task index and its entry there.
// Without a worker (a virtual-platform test) the reads happen on the loop thread, non-blocking,
// as the sampler's do; the program always has a worker.

import LoopCore
import LoopLinux

/// Reads a resolved `SensorSource` every period and reports its filtered values.
public struct SensorTask: Sendable {
  /// The task index (also its worker slot and its reading slot).
  public let index: Int
  var reader: SensorReader
  var filters: SensorFilters
  var ticker: Ticker
  /// Ticks that found the previous sample still in flight.
  public private(set) var busy: UInt64 = 0

  /// A task reading `source` every `period` from `start`, each value through its channel's
  /// chain in `filters`. The period must suit the source (`source.problem(period:)`).
  public init(index: Int, source: SensorSource, filters: SensorFilters, period: Duration, start: Instant) {
    precondition(source.problem(period: period) == nil, "SensorTask.init: period shorter than the read time")
    self.index = index
    reader = SensorReader(source: source, slot: index)
    self.filters = filters
    ticker = Ticker(period: period, first: start, policy: .skip)
  }

  /// Advances the task: collects a finished sample, starts the due ones, emits the heartbeats
  /// due, and registers for the next tick and the next heartbeat.
  @inline(never)
  public mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    let waker = cx.waker
    if world.worker != nil, let sample = reader.collect(&world.worker!, waker: waker) {
      report(sample, &cx, &world)
    }
    while let tick = nextTick(&ticker, &cx, &world.counters[index]) {
      world.markProgress(index, due: ticker.next)
      world.counters[index].missedTicks = ticker.missed + busy
      if world.worker == nil {
        var files = LoopThreadReads(now: cx.now)
        // Every read completes at once, so the sample is whole after one collect.
        if reader.start(&files, tick: tick.scheduled, waker: waker),
          let sample = reader.collect(&files, waker: waker)
        {
          report(sample, &cx, &world)
        }
        continue
      }
      if let pending = reader.inFlight {
        world.skipBusyTick(index, tick.scheduled, pending: pending, busy: &busy, missed: ticker.missed, &cx)
        continue
      }
      _ = reader.start(&world.worker!, tick: tick.scheduled, waker: waker)
      // A refused submit (a slot wired twice) is a failed sample at once.
      if let sample = reader.collect(&world.worker!, waker: waker) { report(sample, &cx, &world) }
    }
    let now = cx.now
    while let due = filters.nextDue, due <= now {
      guard let repeated = filters.repeats(now: now) else { continue }
      var record = world.record(index, at: repeated.time)
      SensorRecord.reading(repeated, of: reader.source, repeated: true, into: &record)
      record.finish()
      world.emit(record, task: index, &cx)
    }
    if let due = filters.nextDue {
      do { try cx.wake(at: due) } catch { world.counters[index].errors += 1 }
    }
    return .pending
  }

  /// Emits `sample`'s record (a reading of the values that passed, or its error) and publishes
  /// the first channel's value for the tasks that watch this one.
  @inline(never)
  private mutating func report<S: Scheduler & ~Copyable>(
    _ sample: SensorSample, _ cx: inout Context<S>, _ world: inout FirmwareWorld
  ) {
    var record = world.record(index, at: sample.tick)
    if let failure = sample.failure {
      world.counters[index].errors += 1
      SensorRecord.error(failure, of: reader.source, into: &record)
    } else {
      let values = filters.filter(sample)
      if values.isEmpty { return }
      SensorRecord.reading(values, of: reader.source, repeated: false, into: &record)
      if values.has(0) { world.readings.publish(index, value: values.values[0], at: sample.tick, &cx) }
    }
    record.field("read_us", integer: (sample.finished - sample.tick).nanoseconds / 1_000)
    record.finish()
    world.emit(record, task: index, &cx)
  }
}

extension FirmwareLimits {
  /// Sensor tasks (entries of `FirmwareWorld.sensors`).
  public static let sensors = 8
}

/// A sensor task as an executor slot holds it: its state is entry `slot` of
/// `FirmwareWorld.sensors`.
public struct SensorSlot: Sendable {
  /// The task index.
  public let index: Int
  /// Its entry in `FirmwareWorld.sensors`.
  public let slot: Int

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    // Taken out while it runs (its poll needs the whole world), then put back.
    guard var task = world.sensors[slot].take() else { return .ready(()) }
    defer { world.sensors[slot] = task }
    return task.poll(&cx, &world)
  }
}

extension FirmwareWorld {
  /// Puts `task` in the first free entry of `sensors`; nil when all `FirmwareLimits.sensors`
  /// are taken (the config checks prevent it).
  public mutating func addSensor(_ task: SensorTask) -> SensorSlot? {
    for slot in 0..<FirmwareLimits.sensors where sensors[slot] == nil {
      sensors[slot] = task
      return SensorSlot(index: task.index, slot: slot)
    }
    return nil
  }
}

/// Reads done at once on the loop thread, opened non-blocking (the sampler's rule without a
/// worker): for virtual-platform tests and the simulated board, never for a slow bus.
struct LoopThreadReads: FileReadService {
  private var buffer = InlineArray<128, UInt8>(repeating: 0)
  private var result: WorkResult? = nil
  /// The loop's time, given as every read's finish (the read is part of this poll).
  let now: Instant

  init(now: Instant) { self.now = now }

  mutating func submitRead<let n: Int>(slot: Int, path: borrowing FixedText<n>, maxBytes: Int, waker: Waker)
    -> Bool
  {
    guard case .none = result else { return false }
    let limit = min(maxBytes, 128)
    do throws(Errno) {
      let fd = try FileDescriptor.open(path, .readOnly | .nonBlocking)
      var whole = buffer.mutableSpan
      var span = whole.extracting(0..<limit)
      let count = try fd.borrowed.read(into: &span, atOffset: 0)
      result = WorkResult(count: count, errno: 0, finished: now)
    } catch {
      result = WorkResult(count: 0, errno: error.rawValue, finished: now)
    }
    return true
  }

  mutating func collect(_ slot: Int) -> WorkResult? {
    defer { result = nil }
    return result
  }

  func withData<R>(_ slot: Int, count: Int, _ body: (Span<UInt8>) -> R) -> R {
    body(buffer.span.extracting(0..<count))
  }
}
