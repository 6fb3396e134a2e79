// Ring: the one ring buffer of the tree, a first-in first-out queue of at most `capacity`
// elements stored inline. The channel between tasks, a GPIO line's edge queue and the
// output's byte ring are built on it. Full is an answer, never growth; nothing allocates.

/// A FIFO of at most `capacity` elements stored inline (an `InlineArray`), oldest first.
///
/// `push` on a full ring stores nothing and says so. A popped slot keeps its element until it
/// is reused, unless the caller says what to leave there (`pop(leaving:)`: `nil` in a ring of
/// optionals, so a popped element that owns something is released at once). When the last
/// element leaves, the next push starts at the front of the storage again, so a drained ring
/// hands out its elements in one contiguous run (`popRun`).
public struct Ring<let capacity: Int, Element> {
  private var storage: InlineArray<capacity, Element>
  /// Where the oldest element is: always in `0..<capacity`.
  private var head = 0
  /// Elements held: always in `0...capacity`.
  public private(set) var count = 0

  /// An empty ring whose unused slots hold `filler` (storage is always initialised).
  public init(repeating filler: Element) {
    precondition(capacity > 0, "Ring.init: capacity must be positive")
    storage = InlineArray(repeating: filler)
  }

  /// Whether no element is held.
  public var isEmpty: Bool { count == 0 }
  /// Whether `capacity` elements are held.
  public var isFull: Bool { count == capacity }

  /// The element `offset` places after the oldest (0 is the oldest); `offset` below `count`.
  public subscript(offset: Int) -> Element {
    precondition(offset >= 0 && offset < count, "Ring.subscript: offset out of range")
    return storage[Self.wrapped(head + offset)]
  }

  /// Appends `element`; false (and nothing stored) when full.
  @discardableResult
  public mutating func push(_ element: Element) -> Bool {
    if count == capacity { return false }
    storage[Self.wrapped(head + count)] = element
    count += 1
    return true
  }

  /// Appends all of `elements`, or none of them when they do not all fit; returns which.
  ///
  /// Two block copies (before and after the wrap), not a loop over elements: a debug build
  /// does not specialise the generic ring, and pays per generic element access.
  @discardableResult
  public mutating func push(contentsOf elements: Span<Element>) -> Bool {
    let n = elements.count
    if capacity - count < n { return false }
    if n == 0 { return true }
    let tail = Self.wrapped(head + count)
    let beforeWrap = min(n, capacity - tail)
    var destination = storage.mutableSpan
    destination.withUnsafeMutableBufferPointer { to in
      elements.withUnsafeBufferPointer { from in
        // SAFETY: `to` is the whole storage and `from` the n elements, both valid for this
        // closure. `tail + beforeWrap ≤ capacity`, and the rest, `n - beforeWrap`, goes to the
        // front, which is free because `count + n ≤ capacity`; the two never overlap.
        (to.baseAddress! + tail).update(from: from.baseAddress!, count: beforeWrap)
        if beforeWrap < n {
          to.baseAddress!.update(from: from.baseAddress! + beforeWrap, count: n - beforeWrap)
        }
      }
    }
    count += n
    return true
  }

  /// Removes and returns the oldest element; nil when empty.
  public mutating func pop() -> Element? {
    if count == 0 { return nil }
    let element = storage[head]
    removeFirst(1)
    return element
  }

  /// Removes and returns the oldest element, leaving `vacated` in its slot; nil when empty.
  public mutating func pop(leaving vacated: Element) -> Element? {
    if count == 0 { return nil }
    let element = storage[head]
    storage[head] = vacated
    removeFirst(1)
    return element
  }

  /// Offers the oldest elements that lie contiguous in storage (up to its end) to `take`,
  /// which returns how many of them it consumed; removes those and returns how many. Nothing
  /// is offered when the ring is empty. A consumer that takes all runs empties the ring in
  /// at most two calls.
  public mutating func popRun(_ take: (Span<Element>) -> Int) -> Int {
    if count == 0 { return 0 }
    let run = min(count, capacity - head)
    let taken = take(storage.span.extracting(head..<(head + run)))
    precondition(taken >= 0 && taken <= run, "Ring.popRun: took more than offered")
    removeFirst(taken)
    return taken
  }

  /// `index` (below `2 × capacity`) wrapped into the storage. Static, and the mutating
  /// methods touch only stored properties: a debug build copies a generic `self` (the whole
  /// storage, element by element) to call a method on it. Measured on the simulated day's
  /// test (debug): 276 s with such a call per pushed record, 26 s without (38 s before Ring).
  private static func wrapped(_ index: Int) -> Int { index >= capacity ? index - capacity : index }

  /// Forgets the `n` oldest elements (`n` at most `count`).
  private mutating func removeFirst(_ n: Int) {
    count -= n
    head = count == 0 ? 0 : Self.wrapped(head + n)
  }
}

extension Ring: Sendable where Element: Sendable {}
