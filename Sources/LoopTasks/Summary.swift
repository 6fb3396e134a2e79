// The per-task summary printed on SIGUSR1, at a reload and at exit: rendered as text into a
// fixed buffer (`SummaryText`) or straight to an fd, never with the heap.

import LoopCore
import LoopGPIO
import LoopLinux
import LoopMQTT

extension Firmware where P: ~Copyable {
  /// The per-task summary, as text.
  public func renderSummary<Out: TextColumns>(
    into out: inout Out, now: Instant, loop: PlatformCounters? = nil
  ) {
    out.append("sensorloop: summary after ")
    out.append(decimal: Double((now - start).nanoseconds) / 1e9, decimals: 3)
    out.append(" s\n")
    out.column("task", 16)
    out.column("kind", 14)
    // One call per heading: an array literal would allocate.
    out.column("polls", 11, right: true)
    out.column("wakes", 11, right: true)
    out.column("longest_us", 11, right: true)
    out.column("missed", 11, right: true)
    out.column("records", 11, right: true)
    out.column("dropped", 11, right: true)
    out.column("errors", 11, right: true)
    out.append("\n")
    for i in 0..<spawnedCount {
      guard let waker = spawned[i], let task = executor.task(waker), let stats = executor.stats(waker)
      else { continue }
      let counters = task.taskIndex.map { world.counters[$0] } ?? TaskCounters()
      if let index = task.taskIndex { out.column(world.names[index], 16) } else { out.column("-", 16) }
      out.column(task.kind, 14)
      out.number(Int64(stats.polls), 11)
      out.number(Int64(stats.wakes), 11)
      out.number(stats.longestPoll.nanoseconds / 1_000, 11)
      out.number(Int64(counters.missedTicks), 11)
      out.number(Int64(counters.records), 11)
      out.number(Int64(counters.dropped), 11)
      out.number(Int64(counters.errors), 11)
      out.append("\n")
    }
    for i in 0..<FirmwareLimits.lines {
      guard let line = world.inputSummary(i) else { continue }
      // The config's name, with the kernel's name (or the offset of an unnamed line) beside it.
      out.append("line ")
      if !line.name.isEmpty {
        out.append(line.name)
        out.append(" (")
      }
      if line.source.name.isEmpty {
        out.append("#")
        out.append(integer: Int64(line.source.offset))
      } else {
        out.append(line.source.name)
      }
      if !line.name.isEmpty { out.append(")") }
      out.append(": ")
      out.append(integer: Int64(line.counters.edges))
      out.append(" edges, ")
      out.append(integer: Int64(line.counters.delivered))
      out.append(" delivered, ")
      out.append(integer: Int64(line.counters.debouncedAway))
      out.append(" debounced away, ")
      out.append(integer: Int64(line.counters.lost))
      out.append(" lost, ")
      out.append(integer: Int64(line.counters.overflowed))
      out.append(" overflowed, ")
      out.append(integer: Int64(line.counters.readErrors))
      out.append(" read errors; ")
      out.append(line.isSimulated ? "mock " : "libgpiod ")
      out.append(line.abi == .v2 ? "v2" : "v1")
      out.append(line.isSimulated ? " records, queue " : ", kernel queue ")
      out.append(integer: Int64(line.kernelQueue))
      if line.debounce > .zero {
        out.append(line.debouncedInKernel ? ", debounce in kernel" : ", debounce in software")
      }
      out.append("\n")
    }
    out.append("output: ")
    out.append(integer: Int64(world.output.records))
    out.append(" records, ")
    out.append(integer: Int64(world.output.dropped))
    out.append(" dropped (ring full), ")
    out.append(integer: Int64(world.output.truncated))
    out.append(" truncated, ")
    out.append(integer: Int64(world.output.count))
    out.append(" bytes unwritten\n")
    if world.outputLoss.records > 0 || world.outputLoss.bytes > 0 {
      // Accepted by the ring, then refused by the fd: said on a line of its own.
      out.append("output: ")
      out.append(integer: Int64(world.outputLoss.records))
      out.append(" records discarded after write errors (")
      out.append(integer: Int64(world.outputLoss.bytes))
      out.append(" bytes, last error ")
      out.append(Errno(rawValue: world.outputLoss.lastErrno).name)
      out.append(")\n")
    }
    if let mqtt = world.mqttCounters {
      // Every record published or dropped, every failure (each was also a record).
      out.append("mqtt: ")
      out.append(integer: Int64(mqtt.link.published))
      out.append(" published, ")
      out.append(integer: Int64(mqtt.link.dropped))
      out.append(" dropped (")
      out.append(integer: Int64(mqtt.client.droppedOffline))
      out.append(" offline, ")
      out.append(integer: Int64(mqtt.client.droppedSendBufferFull))
      out.append(" send buffer full, ")
      out.append(integer: Int64(mqtt.client.droppedWindowFull))
      out.append(" window full, ")
      out.append(integer: Int64(mqtt.client.droppedTooLarge))
      out.append(" too large), ")
      out.append(integer: Int64(mqtt.client.acknowledged))
      out.append(" acknowledged, ")
      out.append(integer: Int64(mqtt.client.retransmitted))
      out.append(" resent; ")
      out.append(integer: Int64(mqtt.client.connections))
      out.append(" connections, ")
      out.append(integer: Int64(mqtt.client.connectFailures))
      out.append(" connect failures, ")
      out.append(integer: Int64(mqtt.client.refusals))
      out.append(" refused, ")
      out.append(integer: Int64(mqtt.client.connectionsLost))
      out.append(" lost; ")
      if mqtt.client.acksLost > 0 {
        // Acknowledgements the broker never got (more waited for room than the client keeps).
        out.append(integer: Int64(mqtt.client.acksLost))
        out.append(" PUBACKs lost; ")
      }
      out.append(integer: Int64(mqtt.link.commands))
      out.append(" commands, ")
      out.append(integer: Int64(mqtt.link.badCommands))
      out.append(" refused; ")
      out.append(integer: Int64(mqtt.link.discoveryPublished))
      out.append(" discovery configs; ")
      out.append(
        mqtt.phase == .connected ? "connected" : mqtt.phase == .stopped ? "stopped" : "not connected")
      out.append("\n")
    }
    if let loop {
      out.append("loop: ")
      out.append(integer: Int64(loop.waits))
      out.append(" waits, ")
      out.append(integer: Int64(loop.interruptedWaits))
      out.append(" interrupted (EINTR, retried), ")
      out.append(integer: Int64(loop.overruns))
      out.append(" timer overruns, max timer lateness ")
      out.append(integer: loop.maxTimerLateness.nanoseconds / 1_000)
      out.append(" us\n")
    }
    if world.summariesSkipped > 0 {
      out.append("summary: ")
      out.append(integer: Int64(world.summariesSkipped))
      out.append(
        " requests not printed (the previous summary still being written, or no room in the output ring)\n")
    }
  }
}

/// A summary rendered into a fixed buffer, written later by the `SummaryWriter` task (to stderr
/// through the worker, or into the output ring when stderr is the output's file).
public struct SummaryText: TextColumns {
  /// The longest summary: 40 task rows and 32 line rows of ~110 bytes fit twice over.
  public static let capacity = 16_384

  private var bytes = InlineArray<16_384, UInt8>(repeating: 0)
  /// Bytes rendered.
  public private(set) var count = 0
  /// Bytes delivered so far (written or queued in the ring).
  public private(set) var delivered = 0
  public private(set) var currentColumn = 0

  /// An empty text.
  public init() {}

  /// Bytes rendered but not yet delivered.
  public var remaining: Int { count - delivered }

  @inline(never)
  public mutating func append(byte: UInt8) {
    if count == SummaryText.capacity { return }
    bytes[count] = byte
    count += 1
    currentColumn = byte == 0x0A ? 0 : currentColumn + 1
  }

  /// Empties the text.
  public mutating func reset() {
    count = 0
    delivered = 0
    inFlight = 0
    currentColumn = 0
  }

  /// Cuts a line the capacity cut short, so the text is whole lines only.
  public mutating func endAtWholeLine() {
    while count > 0 && bytes[count - 1] != 0x0A { count -= 1 }
  }

  /// Bytes after `delivered` handed to a worker thread's write, not yet confirmed.
  public var inFlight = 0

  /// Marks `n` more bytes as delivered.
  public mutating func markDelivered(_ n: Int) {
    precondition(n >= 0 && n <= remaining, "SummaryText.markDelivered: past the end")
    delivered += n
  }

  /// The bytes not yet delivered.
  public func withRemaining<R>(_ body: (Span<UInt8>) -> R) -> R {
    body(bytes.span.extracting(delivered..<count))
  }
}
