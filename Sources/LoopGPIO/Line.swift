// The vocabulary of GPIO lines: edges and their events, how an input or output is requested,
// and the counters every input keeps. Shared by the libgpiod and mock backends.

import LoopCore

/// A change of a line's logical level.
public enum Edge: UInt8, Equatable, Hashable, Sendable {
  /// Logical low to high.
  case rising
  /// Logical high to low.
  case falling

  /// The logical level after the edge.
  public var level: Bool { self == .rising }

  /// The edge that ends at `level`.
  public init(to level: Bool) { self = level ? .rising : .falling }
}

/// One edge with the kernel's timestamp of when it happened (CLOCK_MONOTONIC since Linux 5.7,
/// the same clock as the executor's).
public struct EdgeEvent: Equatable, Hashable, Sendable {
  /// Which edge.
  public var edge: Edge
  /// When the edge happened, as the kernel (or the mock's script) stamped it.
  public var timestamp: Instant

  /// An event for `edge` at `timestamp`.
  public init(_ edge: Edge, at timestamp: Instant) {
    self.edge = edge
    self.timestamp = timestamp
  }
}

/// Which edges of an input the kernel reports.
public enum EdgeDetection: UInt8, Equatable, Sendable {
  /// Low to high only.
  case rising
  /// High to low only.
  case falling
  /// Both, so the level is always known (what debounce and lost-edge detection need).
  case both

  /// Whether `edge` is reported.
  public func reports(_ edge: Edge) -> Bool {
    switch self {
    case .rising: edge == .rising
    case .falling: edge == .falling
    case .both: true
    }
  }
}

/// The pull resistor of an input (kernel 5.5 or later honours it).
public enum Bias: UInt8, Equatable, Sendable {
  /// Leave the line's bias as it is.
  case asIs
  /// No pull resistor.
  case disabled
  /// Pull up: the idle level is high.
  case pullUp
  /// Pull down: the idle level is low.
  case pullDown
}

/// How an output drives its pin.
public enum Drive: UInt8, Equatable, Sendable {
  /// Drives both high and low.
  case pushPull
  /// Drives low only; high is left to a pull-up (shared buses, LEDs to 5 V).
  case openDrain
  /// Drives high only.
  case openSource
}

/// The kernel GPIO uAPI whose edge records a line's fd gives.
public enum KernelABI: UInt8, Equatable, Sendable {
  /// `struct gpioevent_data` (16 bytes): libgpiod 1.x (Pi OS bookworm). A 16-event queue per
  /// line that drops the newest event when full; no sequence numbers.
  case v1
  /// `struct gpio_v2_line_event` (48 bytes): libgpiod 2.x (Pi OS trixie). A queue sized per
  /// request that drops the oldest event when full; `line_seqno` counts every edge, so a gap
  /// says exactly how many were lost.
  case v2
}

/// How to request an input line.
public struct InputConfig: Equatable, Sendable {
  /// The interrupt line raised when the line's event fd becomes readable.
  public var interrupt: Interrupt
  /// Which edges to report.
  public var edges: EdgeDetection
  /// The pull resistor.
  public var bias: Bias
  /// Whether the logical level is the inverse of the physical one; the kernel then reports
  /// logical edges (a physical falling edge is a rising event).
  public var activeLow: Bool
  /// Debounce window: given to the kernel on the v2 uAPI (edges are filtered before they are
  /// queued), applied in software on kernel timestamps otherwise; `.zero` turns it off.
  public var debounce: Duration
  /// Events the kernel queues for the line on the v2 uAPI (the v1 uAPI's queue is always 16).
  public var kernelQueue: Int

  /// The kernel queue asked for when the config does not say: 256 edges (12 KiB of kernel
  /// memory per line), a 1 kHz square wave's edges for 128 ms of a stalled loop.
  public static var defaultKernelQueue: Int { 256 }
  /// The largest kernel queue the kernel grants (`GPIO_V2_LINES_MAX * 16`).
  public static var maxKernelQueue: Int { 1024 }

  /// An input raising `interrupt` on `edges`.
  public init(
    interrupt: Interrupt, edges: EdgeDetection = .both, bias: Bias = .asIs, activeLow: Bool = false,
    debounce: Duration = .zero, kernelQueue: Int = InputConfig.defaultKernelQueue
  ) {
    self.interrupt = interrupt
    self.edges = edges
    self.bias = bias
    self.activeLow = activeLow
    self.debounce = debounce
    self.kernelQueue = kernelQueue
  }
}

/// How to request an output line.
public struct OutputConfig: Equatable, Sendable {
  /// The logical value set when the line is requested.
  public var initial: Bool
  /// How the pin is driven.
  public var drive: Drive
  /// Whether the logical value is the inverse of the physical level.
  public var activeLow: Bool

  /// An output starting at `initial`.
  public init(initial: Bool = false, drive: Drive = .pushPull, activeLow: Bool = false) {
    self.initial = initial
    self.drive = drive
    self.activeLow = activeLow
  }
}

/// What an input has seen, for the firmware's stats and for tests. Nothing is dropped without
/// being counted here.
public struct LineCounters: Equatable, Sendable {
  /// Edge events read from the line's fd.
  public var edges: UInt64 = 0
  /// Events handed to the task.
  public var delivered: UInt64 = 0
  /// Events dropped because the line's queue was full.
  public var overflowed: UInt64 = 0
  /// Edges lost before they were read. v2 uAPI: exact, the gaps in the kernel's per-line
  /// sequence numbers (a full queue drops its oldest edge). v1 uAPI: a lower bound, impossible
  /// sequences (two rising or two falling edges in a row on a both-edges line), each meaning at
  /// least one edge was lost, usually in the kernel's 16-event FIFO.
  public var lost: UInt64 = 0
  /// Edges the debounce window swallowed.
  public var debouncedAway: UInt64 = 0
  /// Read calls that returned at least one event.
  public var reads: UInt64 = 0
  /// Read calls that failed with something other than "nothing to read".
  public var readErrors: UInt64 = 0

  /// Zeroed counters.
  public init() {}
}

/// Where a requested line came from: which chip, and which of the names asked for matched.
public struct LineSource: Equatable, Sendable {
  /// The chip's device name (`gpiochip0`).
  public var chipName: GPIOName
  /// The chip's label (`pinctrl-bcm2711`).
  public var chipLabel: GPIOName
  /// The chip's device path (`/dev/gpiochip0`).
  public var chipPath: GPIOName
  /// The line's offset on the chip.
  public var offset: Int
  /// The line's name as the chip reports it (empty when unnamed).
  public var name: GPIOName
  /// Which name of the selector matched: 0 the first, 1 the first alternative, ...; `-1` when
  /// the line was found by offset.
  public var matched: Int

  /// A source record.
  public init(
    chipName: GPIOName, chipLabel: GPIOName, chipPath: GPIOName, offset: Int, name: GPIOName,
    matched: Int
  ) {
    self.chipName = chipName
    self.chipLabel = chipLabel
    self.chipPath = chipPath
    self.offset = offset
    self.name = name
    self.matched = matched
  }
}
