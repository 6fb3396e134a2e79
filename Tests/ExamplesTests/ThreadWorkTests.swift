// ThreadWork in virtual time: the test plays the worker thread (stores a result, raises the
// line, as the eventfd would) and checks the task takes each raise once.

import LoopCore
import LoopTesting
import Testing

@testable import ThreadWork

@Suite struct ThreadWorkTests {
  /// One raise, one result; two raises before the loop runs coalesce into one wake.
  @Test func takesEachRaise() throws {
    var nothing = Nothing()
    var executor = Executor<1, 1, Collector, VirtualPlatform>(platform: VirtualPlatform())
    let task = try executor.spawn(Collector(wanted: 3))
    executor.runUntilStalled(&nothing)
    #expect(executor.task(task)?.seen == 0)

    latestResult.store(1, ordering: .relaxed)
    resultsMade.store(1, ordering: .releasing)
    executor.platform.raise(resultReady)
    #expect(executor.runUntilStalled(&nothing) == 1)
    #expect(executor.task(task)?.seen == 1)

    #expect(executor.runUntilStalled(&nothing) == 0)  // No raise: the task is not polled.

    for n in 2...3 {
      latestResult.store(n * n, ordering: .relaxed)
      resultsMade.store(n, ordering: .releasing)
      executor.platform.raise(resultReady)
    }
    executor.runUntilStalled(&nothing)
    #expect(executor.liveTasks == 0)  // Saw result 3 and finished.
  }
}
