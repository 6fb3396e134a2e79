// The names an object's keys or a choice may take, as the validator checks them: written as one
// literal of words separated by spaces (`"chip consumer"`). In the board binary a literal costs
// its bytes, where an array of literals costs code for every element at every use.

/// Words, from one literal separated by spaces or line breaks (`"json influx"`) or from a list
/// of literals (the task kinds' registered keys and names). Startup only: it allocates.
struct Words: ExpressibleByStringLiteral {
  /// The words, in order.
  let list: [[UInt8]]

  /// The words of `text`, separated by spaces or line breaks (a long list is written as a
  /// multi-line literal).
  init(stringLiteral text: StaticString) { self.init(text, then: "") }

  /// The words of `first`, then those of `rest` (a task kind's keys after `name kind`).
  @inline(never)
  init(_ first: StaticString, then rest: StaticString) {
    var list: [[UInt8]] = []
    var word: [UInt8] = []
    func split(_ text: StaticString) {
      text.withUTF8Buffer { all in
        for byte in all {
          if byte != UInt8(ascii: " ") && byte != 0x0A {
            word.append(byte: byte)
          } else if !word.isEmpty {
            list.append(word)
            word = []
          }
        }
      }
      if !word.isEmpty { list.append(word) }
      word = []
    }
    split(first)
    split(rest)
    self.list = list
  }

  /// The literals of `literals`, in order (for tests; the validator splits literals).
  init(_ literals: [StaticString]) {
    var list: [[UInt8]] = []
    for literal in literals { list.append(bytes(literal)) }
    self.list = list
  }

  /// How many words there are.
  var count: Int { list.count }

  /// The index of the word equal to `bytes`, if one is.
  @inline(never)
  func index(of bytes: ArraySlice<UInt8>) -> Int? {
    for index in list.indices where list[index][...] == bytes { return index }
    return nil
  }
}

extension Array where Element == UInt8 {
  /// Appends each word between double quotes, `separator` between two (`"a", "b"`).
  @inline(never)
  mutating func appendQuoted(_ words: Words, separator: StaticString) {
    for index in words.list.indices {
      if index > 0 { append(separator) }
      appendQuoted(words.list[index])
    }
  }
}
