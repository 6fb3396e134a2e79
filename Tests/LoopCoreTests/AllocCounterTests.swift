// The allocation counter must itself be proven to count, or every "allocates nothing" test
// built on it could pass vacuously.

import AllocCounter
import Testing

@Test func allocationCounterSeesAnArrayAllocation() {
  let before = sl_alloc_count_thread()
  var array = [Int]()
  array.reserveCapacity(100)
  array.append(1)
  let after = sl_alloc_count_thread()
  #expect(sl_alloc_counter_active() == 1)
  #expect(after > before)
  #expect(array.count == 1)
}
