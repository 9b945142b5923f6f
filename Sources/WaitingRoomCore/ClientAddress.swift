/// Who a request comes from, for per-client limits: the TCP peer, or — when the peer is a trusted proxy —
/// the address that proxy (and any trusted proxy before it) says it received the request from.
///
/// Header entries are walked **from the right**: the rightmost entry was written by the proxy that talked
/// to us, the one before it by the proxy before that, and so on. The first address that is not a trusted
/// proxy is the client; everything left of it was written by the client itself and is ignored, so a client
/// cannot choose its own address by sending `X-Forwarded-For: 1.2.3.4`.
///
/// ```swift
/// let key = ClientAddress.resolve(peer: "10.0.0.5", forwarded: nil, xForwardedFor: "203.0.113.9, 10.0.0.7",
///                                 trusted: proxies).limitKey   // "203.0.113.9"
/// ```
public enum ClientAddress {
    /// The resolved client and, for rate limits, its key: IPv4 addresses whole, IPv6 by their /64 (one
    /// subscriber usually holds a whole /64, so per-address limits would be trivial to evade).
    public struct Resolved: Sendable, Equatable {
        public let address: IPAddress
        public var limitKey: String { address.isIPv4 ? address.description : address.masked(bits: 64).description + "/64" }
    }

    /// - Parameters:
    ///   - peer: the TCP peer's address text (nil or unparsable: the result is nil, no limit key).
    ///   - forwarded: the RFC 7239 `Forwarded` header (all its lines joined with `,`), preferred when present.
    ///   - xForwardedFor: the `X-Forwarded-For` header (all its lines joined with `,`).
    ///   - trusted: the proxies whose headers are believed.
    public static func resolve(peer: String?, forwarded: String?, xForwardedFor: String?, trusted: TrustedProxies) -> Resolved? {
        guard let peer, let peerAddress = IPAddress(peer) else { return nil }
        guard trusted.contains(peerAddress) else { return Resolved(address: peerAddress) }
        let hops: [Substring]?
        if let forwarded, !forwarded.isEmpty {
            hops = forwardedFor(forwarded)
        } else if let xForwardedFor, !xForwardedFor.isEmpty {
            hops = xForwardedFor.split(separator: ",", omittingEmptySubsequences: false).map { trim($0) }
        } else {
            hops = []
        }
        // A header we cannot read is treated as written by the client: stop at the proxy that sent it.
        guard let hops else { return Resolved(address: peerAddress) }
        var client = peerAddress
        for hop in hops.reversed() {
            guard let address = hopAddress(hop) else { return Resolved(address: client) }
            client = address
            if !trusted.contains(address) { return Resolved(address: address) }
        }
        // Every hop was a trusted proxy: the leftmost one is the best we know.
        return Resolved(address: client)
    }

    /// The `for=` values of a `Forwarded` header, in order; nil when an element has no `for=`
    /// or a malformed one.
    static func forwardedFor(_ header: String) -> [Substring]? {
        var out: [Substring] = []
        for element in header.split(separator: ",", omittingEmptySubsequences: false) {
            var value: Substring?
            for pair in element.split(separator: ";") {
                let trimmed = trim(pair)
                guard let equals = trimmed.firstIndex(of: "=") else { return nil }
                if trim(trimmed[..<equals]).lowercased() == "for" {
                    var text = trim(trimmed[trimmed.index(after: equals)...])
                    if text.first == "\"" {
                        guard text.count >= 2, text.last == "\"" else { return nil }
                        text = text.dropFirst().dropLast()
                    }
                    value = text
                }
            }
            guard let value else { return nil }
            out.append(value)
        }
        return out
    }

    /// An address from one hop: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]`, `[2001:db8::1]:443` or a bare
    /// IPv6 address. Obfuscated identifiers (`unknown`, `_hidden`) are not addresses.
    static func hopAddress(_ hop: Substring) -> IPAddress? {
        if hop.first == "[" {
            guard let close = hop.firstIndex(of: "]") else { return nil }
            let rest = hop[hop.index(after: close)...]
            guard rest.isEmpty || (rest.first == ":" && rest.dropFirst().allSatisfy(\.isNumber) && rest.count > 1) else { return nil }
            return IPAddress(hop[...close])
        }
        if let address = IPAddress(hop) { return address }
        // IPv4 with a port.
        if let colon = hop.lastIndex(of: ":"), hop.firstIndex(of: ":") == colon {
            let port = hop[hop.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy(\.isNumber) else { return nil }
            return IPAddress(hop[..<colon]).flatMap { $0.isIPv4 ? $0 : nil }
        }
        return nil
    }

    static func trim(_ text: Substring) -> Substring {
        var text = text
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
