/// The proxies (load balancers, CDNs) whose `Forwarded` / `X-Forwarded-For` entries the gate believes,
/// as a list of CIDR blocks: `WAITROOM_TRUSTED_PROXIES=10.0.0.0/8,fd00::/8,127.0.0.1`.
///
/// An empty list (the default) trusts no header: the client is the TCP peer.
public struct TrustedProxies: Sendable, Equatable {
    public struct Block: Sendable, Equatable, CustomStringConvertible {
        public let network: IPAddress
        /// Prefix length counted on the 128-bit form (an IPv4 `/24` is `/120` here).
        public let bits: Int

        public func contains(_ address: IPAddress) -> Bool { address.sharesPrefix(with: network, bits: bits) }

        public var description: String { "\(network)/\(network.isIPv4 ? bits - 96 : bits)" }
    }

    public let blocks: [Block]

    public static let none = TrustedProxies(blocks: [])

    public init(blocks: [Block]) { self.blocks = blocks }

    /// Parses a comma- or space-separated list of addresses and CIDR blocks. Returns the first bad entry's
    /// text as the error (start-up names it); host bits set in a block (`10.0.0.1/8`) are refused too,
    /// since they usually mean a typo.
    public static func parse(_ text: String) -> Result<TrustedProxies, ParseError> {
        var blocks: [Block] = []
        for entry in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }) where !entry.isEmpty {
            guard let block = parseBlock(entry) else { return .failure(ParseError(entry: String(entry))) }
            blocks.append(block)
        }
        return .success(TrustedProxies(blocks: blocks))
    }

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let entry: String
        public var description: String { "not an IP address or CIDR block: \(entry)" }
    }

    static func parseBlock(_ entry: Substring) -> Block? {
        let parts = entry.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPAddress(parts[0]) else { return nil }
        let maximum = address.isIPv4 ? 32 : 128
        var bits = maximum
        if parts.count == 2 {
            guard (1...3).contains(parts[1].utf8.count), parts[1].utf8.allSatisfy({ (48...57).contains($0) }),
                let value = Int(parts[1]), (0...maximum).contains(value)
            else { return nil }
            bits = value
        }
        let total = address.isIPv4 ? bits + 96 : bits
        guard address.masked(bits: total) == address else { return nil }
        return Block(network: address, bits: total)
    }

    public func contains(_ address: IPAddress) -> Bool { blocks.contains { $0.contains(address) } }
}
