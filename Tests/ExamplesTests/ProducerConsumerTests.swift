// ProducerConsumer in virtual time: the whole 2.1 s exchange runs with the clock jumping to
// each deadline; the counts and the end time are exact.

import LoopCore
import LoopTesting
import Testing

@testable import ProducerConsumer

@Suite struct ProducerConsumerTests {
  /// 15 readings; the consumer times out once in each 400 ms pause (after the 5th and 10th).
  @Test func fifteenReadingsTwoTimeouts() throws {
    var shared = Shared()
    var executor = Executor<2, 2, App, VirtualPlatform>(platform: VirtualPlatform(advancesToDeadline: true))
    try executor.spawn(.consumer(deadline: nil))
    try executor.spawn(
      .producer(ticker: Ticker(period: .milliseconds(100), first: .zero + .milliseconds(100)), next: 1))
    #expect(executor.run(&shared) == .stopped)
    #expect(shared.received == 15)
    #expect(shared.timeouts == 2)
    // Readings at 100–500, 900–1300 and 1700–2100 ms.
    #expect(executor.platform.time == .zero + .milliseconds(2100))
  }
}
