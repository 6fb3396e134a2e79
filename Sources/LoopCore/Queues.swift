// The executor's two fixed-capacity queues: the FIFO of ready slots and the deadline-ordered
// timer queue. Both live inline (InlineArray) and report a full queue instead of growing.

/// A FIFO of slot indices: a ring, and a one-slot lane in front of it. Each slot is queued at
/// most once (the slot's phase says so), so a capacity equal to the slot count never overflows.
///
/// A slot pushed into an empty queue goes to the lane, which is then the oldest entry; later
/// pushes go to the ring behind it until the queue is empty again. A task woken while the queue
/// is empty (W1's ping-pong: the task being polled wakes the other) is then pushed and popped
/// with a store and a load, without the ring's index arithmetic: 10.5 instructions fewer per W1
/// hop (114.7 to 104.2, sensorloop-bench instructions; figures in the commit that added it).
///
/// Hand-written rather than a `Ring` (Ring.swift): on the run loop's hot path a `Ring` with
/// unchecked indexing measured 127.2 instructions per W1 hop against 126.3 for the plain ring
/// this queue had then (W2 and W3 were 5-6 fewer), so it stayed.
struct ReadyQueue<let capacity: Int> {
  // The lane's fields first: the run loop reaches them at small offsets (see `Kernel`).
  /// Entries queued, the lane's included.
  private(set) var count = 0
  /// The lane's entry, widened: the run loop polls it as an `Int` and may push the same slot
  /// again, and with a 16-bit lane the optimiser kept the 16-bit value alive beside the index,
  /// one more spill per W1 hop.
  private var lane = 0
  /// Entries in `ring`. The lane holds the oldest entry exactly when `count > ringCount`.
  private var ringCount = 0
  private var head = 0
  private var ring = InlineArray<capacity, UInt16>(repeating: 0)

  var isEmpty: Bool { count == 0 }

  @inline(__always)
  mutating func push(_ slot: UInt16) {
    if _fastPath(count == 0) {
      lane = Int(slot)
      count = 1
      return
    }
    pushToRing(slot)
  }

  /// `push` behind other entries: the uncommon case (several tasks ready at once). Not inlined,
  /// so the run loop and every wake inlined into a task stay small: inlined, it cost W1 10
  /// instructions per hop (140.7 against 130.7, before `Kernel.wakeOther`).
  @inline(never)
  private mutating func pushToRing(_ slot: UInt16) {
    precondition(count < capacity, "ReadyQueue.push: slot queued twice")
    var tail = head &+ ringCount
    if tail >= capacity { tail &-= capacity }
    // SAFETY: head < capacity and ringCount <= count < capacity (checked above), so
    // tail < capacity.
    unsafe ring[unchecked: tail] = slot
    ringCount &+= 1
    count &+= 1
  }

  mutating func pop() -> UInt16? {
    if count == 0 { return nil }
    return UInt16(truncatingIfNeeded: popNonEmpty())
  }

  /// `pop` for a caller that knows the queue is not empty (the run loop pops exactly the count
  /// it read at the start of a turn).
  @inline(__always)
  mutating func popNonEmpty() -> Int {
    count &-= 1
    // The lane is set only when the queue was empty, so it is older than every ring entry.
    if _fastPath(count == ringCount) { return lane }
    return Int(popFromRing())
  }

  /// `popNonEmpty` when the lane is empty. Not inlined, as `pushToRing`.
  @inline(never)
  private mutating func popFromRing() -> UInt16 {
    // SAFETY: head stays in 0..<capacity (it wraps to 0 at capacity).
    let slot = unsafe ring[unchecked: head]
    head &+= 1
    if head == capacity { head = 0 }
    ringCount &-= 1
    return slot
  }

  /// Removes `slot` wherever it is, keeping the order of the others.
  mutating func remove(_ slot: UInt16) {
    let n = count
    for _ in 0..<n {
      let s = pop()!
      if s != slot { push(s) }
    }
  }
}

/// One armed deadline: wake `slot` at `deadline`.
struct TimerEntry {
  var deadline: Instant
  var slot: UInt16
}

/// Deadlines in firing order: earliest first, equal deadlines in the order they were armed.
///
/// Stored sorted latest-first so the next deadline pops off the end in O(1); inserting shifts
/// at most `capacity` entries, which for a board's few dozen timers beats a heap's bookkeeping.
struct TimerQueue<let capacity: Int> {
  private var entries = InlineArray<capacity, TimerEntry>(
    repeating: TimerEntry(deadline: .distantFuture, slot: 0))
  private(set) var count = 0

  var isFull: Bool { count == capacity }

  /// The earliest deadline, if any.
  var earliest: Instant? { count == 0 ? nil : entries[count - 1].deadline }

  /// Inserts after every entry with the same deadline; throws when full.
  mutating func insert(_ deadline: Instant, slot: UInt16) throws(CapacityError) {
    if count == capacity { throw .timerQueue }
    // Entries later than `deadline` stay in front; equal ones armed earlier stay behind us
    // (nearer the end), so they fire first.
    var i = count
    while i > 0 && entries[i - 1].deadline <= deadline {
      entries[i] = entries[i - 1]
      i -= 1
    }
    entries[i] = TimerEntry(deadline: deadline, slot: slot)
    count += 1
  }

  /// Removes the entry of `slot`, if it has one.
  mutating func remove(slot: UInt16) {
    var i = 0
    while i < count && entries[i].slot != slot { i += 1 }
    if i == count { return }
    while i + 1 < count {
      entries[i] = entries[i + 1]
      i += 1
    }
    count -= 1
  }

  /// Removes and returns the earliest entry if it is due at `now`.
  mutating func popDue(at now: Instant) -> TimerEntry? {
    guard count > 0, entries[count - 1].deadline <= now else { return nil }
    count -= 1
    return entries[count]
  }
}
