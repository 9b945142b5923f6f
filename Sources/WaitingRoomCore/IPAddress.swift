/// An IPv4 or IPv6 address as 16 bytes (IPv4 as an IPv4-mapped IPv6 address, `::ffff:a.b.c.d`), parsed
/// without Foundation or the C library: it runs on every join behind a proxy.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// Network byte order; IPv4 addresses are stored mapped (`::ffff:a.b.c.d`).
    public let bytes: [UInt8]

    public var isIPv4: Bool { bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses `a.b.c.d`, an IPv6 address (with `::`, an embedded IPv4 tail, no zone), or either inside
    /// brackets; refuses anything else (ports, zones, leading zeros in IPv4 octets).
    public init?(_ text: Substring) {
        var text = text
        if text.first == "[" {
            guard text.last == "]", text.count > 2 else { return nil }
            text = text.dropFirst().dropLast()
        }
        guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
        if text.contains(":") {
            guard let bytes = Self.parseIPv6(text) else { return nil }
            self.bytes = bytes
        } else {
            guard let four = Self.parseIPv4(text) else { return nil }
            self.bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + four
        }
    }

    public init?(_ text: String) { self.init(Substring(text)) }

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy({ (48...57).contains($0) }),
                part.utf8.count == 1 || part.utf8.first != UInt8(ascii: "0"), let value = UInt8(part)
            else { return nil }
            out.append(value)
        }
        return out
    }

    static func parseIPv6(_ text: Substring) -> [UInt8]? {
        // At most one "::"; each side is a list of 1-4 hex digit groups; the last group may be an IPv4 address.
        var halves: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(after: index)
            if text[index] == ":", next < text.endIndex, text[next] == ":" {
                halves.append(text[start..<index])
                start = text.index(after: next)
                index = start
            } else {
                index = next
            }
        }
        halves.append(text[start...])
        guard halves.count <= 2 else { return nil }
        func groups(_ side: Substring, allowIPv4Tail: Bool) -> [UInt8]? {
            if side.isEmpty { return [] }
            let items = side.split(separator: ":", omittingEmptySubsequences: false)
            var out: [UInt8] = []
            for (index, item) in items.enumerated() {
                if allowIPv4Tail, index == items.count - 1, item.contains(".") {
                    guard let four = parseIPv4(item) else { return nil }
                    out += four
                    continue
                }
                guard (1...4).contains(item.utf8.count), let value = UInt16(item, radix: 16), item.utf8.allSatisfy({ $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "-") }) else { return nil }
                out += [UInt8(value >> 8), UInt8(value & 0xff)]
            }
            return out
        }
        if halves.count == 1 {
            guard let all = groups(halves[0], allowIPv4Tail: true), all.count == 16 else { return nil }
            return all
        }
        guard let left = groups(halves[0], allowIPv4Tail: false), let right = groups(halves[1], allowIPv4Tail: true),
            left.count + right.count <= 14
        else { return nil }
        return left + [UInt8](repeating: 0, count: 16 - left.count - right.count) + right
    }

    /// Whether the first `bits` bits equal those of `other`.
    public func sharesPrefix(with other: IPAddress, bits: Int) -> Bool {
        var remaining = bits
        for index in 0..<16 where remaining > 0 {
            let take = min(8, remaining)
            let mask: UInt8 = take == 8 ? 0xff : ~(0xff >> UInt8(take))
            if bytes[index] & mask != other.bytes[index] & mask { return false }
            remaining -= take
        }
        return true
    }

    /// This address with everything after the first `bits` bits zeroed.
    public func masked(bits: Int) -> IPAddress {
        var out = bytes
        var remaining = bits
        for index in 0..<16 {
            let take = max(0, min(8, remaining))
            let mask: UInt8 = take == 8 ? 0xff : (take == 0 ? 0 : ~(0xff >> UInt8(take)))
            out[index] &= mask
            remaining -= take
        }
        return IPAddress(bytes: out)!
    }

    public var description: String {
        if isIPv4 { return bytes[12...].map(String.init).joined(separator: ".") }
        // RFC 5952: lower-case hex, the longest run (of two or more) of zero groups as "::".
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8, groups[end] == 0 { end += 1 }
                if end - index > best.length { best = (index, end - index) }
                index = end
            } else {
                index += 1
            }
        }
        func hex(_ range: Range<Int>) -> String { range.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
        guard best.length >= 2 else { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
    }
}
