// Ring, the one ring buffer of the tree: order across the wrap, a full ring (each answer),
// all-or-nothing bulk pushes, contiguous runs for a writer, and popped slots left empty.
// (Results are taken into locals first: #expect cannot expand a single mutating call.)

import LoopCore
import Testing

@Suite struct RingTests {
  /// The elements oldest first, through the subscript.
  func contents<let n: Int>(_ ring: Ring<n, Int>) -> [Int] { (0..<ring.count).map { ring[$0] } }

  /// Pushes each of `values` and returns the answers.
  func push<let n: Int>(_ values: [Int], into ring: inout Ring<n, Int>) -> [Bool] {
    values.map { ring.push($0) }
  }

  /// Pops until empty and returns what came out.
  func popAll<let n: Int>(_ ring: inout Ring<n, Int>) -> [Int] {
    var out: [Int] = []
    while let value = ring.pop() { out.append(value) }
    return out
  }

  @Test func firstInFirstOutAcrossTheWrap() {
    var ring = Ring<3, Int>(repeating: 0)
    #expect(ring.isEmpty && !ring.isFull)
    #expect(push([1, 2], into: &ring) == [true, true])
    let first = ring.pop()
    #expect(first == 1)
    #expect(push([3, 4], into: &ring) == [true, true])  // 4 lands in slot 0: wrapped.
    #expect(ring.isFull)
    #expect(contents(ring) == [2, 3, 4])
    #expect(popAll(&ring) == [2, 3, 4])
    #expect(ring.isEmpty)
  }

  /// Full capacity: `push` stores nothing and says so; the held elements are untouched.
  @Test func aFullRingRefusesAndKeepsWhatItHolds() {
    var ring = Ring<2, Int>(repeating: 0)
    #expect(push([7, 8, 9], into: &ring) == [true, true, false])
    #expect(ring.count == 2 && contents(ring) == [7, 8])
  }

  @Test func bulkPushIsAllOrNothing() {
    var ring = Ring<5, Int>(repeating: 0)
    let fits = ring.push(contentsOf: [1, 2, 3].span)
    let tooMany = ring.push(contentsOf: [4, 5, 6].span)  // 3 + 3 > 5: nothing stored
    #expect(fits && !tooMany)
    #expect(contents(ring) == [1, 2, 3])
    _ = (ring.pop(), ring.pop())
    let wraps = ring.push(contentsOf: [4, 5, 6, 7].span)  // 6 and 7 go to the front
    #expect(wraps)
    #expect(contents(ring) == [3, 4, 5, 6, 7] && ring.isFull)
  }

  /// A writer is offered the oldest contiguous run; what it does not take stays first.
  @Test func runsAreContiguousAndAPartialTakeKeepsTheRest() {
    var ring = Ring<4, Int>(repeating: 0)
    _ = ring.push(contentsOf: [1, 2, 3].span)
    var offered: [[Int]] = []
    let firstTake = ring.popRun { run in
      offered.append((0..<run.count).map { run[$0] })
      return 1
    }
    #expect(firstTake == 1 && offered == [[1, 2, 3]])
    _ = ring.push(contentsOf: [4, 5].span)  // 5 wraps to slot 0
    offered = []
    while !ring.isEmpty {
      _ = ring.popRun { run in
        offered.append((0..<run.count).map { run[$0] })
        return run.count
      }
    }
    #expect(offered == [[2, 3, 4], [5]])
    var calledWhenEmpty = false
    let none = ring.popRun { _ in
      calledWhenEmpty = true
      return 0
    }
    #expect(none == 0 && !calledWhenEmpty)
    // Emptied: the next elements start at the front again, in one run.
    _ = ring.push(contentsOf: [6, 7, 8, 9].span)
    let whole = ring.popRun { $0.count }
    #expect(whole == 4)
  }

  /// `pop(leaving:)` leaves nothing behind: a popped object is released at once.
  @Test func popLeavingReleasesThePoppedElement() {
    final class Box {}
    var ring = Ring<2, Box?>(repeating: nil)
    weak var weakBox: Box?
    do {
      let box = Box()
      weakBox = box
      _ = ring.push(box)
    }
    var popped = ring.pop(leaving: nil)
    #expect(popped != nil && weakBox != nil)
    popped = nil
    #expect(weakBox == nil)
  }
}
