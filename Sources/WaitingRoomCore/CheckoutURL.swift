/// Validation of a room's `checkoutUrl`, where admitted shoppers are sent with their token
/// (`checkoutUrl?wr_token=<JWT>`): a URL that a browser resolves to another host leaks the token.
///
/// Accepted: `http(s)://host[:port][/path][?query]` (no userinfo, port 1–65535) and absolute paths
/// (`/checkout`). Refused: backslashes anywhere (browsers read `\` as `/`, so `/\evil.example` is
/// `//evil.example`), protocol-relative `//host`, control characters and spaces, userinfo
/// (`https://evil.example\@good.example`, `https://user@good.example/`), other schemes, bad ports, and
/// hosts outside `allowedHosts` when an allow-list is given.
public enum CheckoutURL {
    /// The reason `text` is refused, or nil when it is acceptable.
    /// - Parameters:
    ///   - text: the URL as configured.
    ///   - allowedHosts: when non-nil, an absolute URL's host must equal one of these (case-insensitive) or
    ///     be a subdomain of an entry written `.example.com`. Paths are always allowed (same host as the gate).
    public static func validate(_ text: String, allowedHosts: [String]? = nil) -> String? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return "must not be empty" }
        guard bytes.count <= 2_048 else { return "must be at most 2048 bytes" }
        if let bad = bytes.first(where: { $0 < 0x21 || $0 == 0x7f }) {
            return bad == 0x20 ? "must not contain spaces" : "must not contain control characters"
        }
        guard !bytes.contains(UInt8(ascii: "\\")) else { return "must not contain backslashes" }
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return "must be ASCII (percent-encode or punycode the rest)" }
        if bytes[0] == UInt8(ascii: "/") {
            guard bytes.count == 1 || bytes[1] != UInt8(ascii: "/") else { return "must not start with // (another host)" }
            return nil
        }
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") {
            rest = text.dropFirst(8)
        } else if lower.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else {
            return "must be an http(s) URL or an absolute path starting with /"
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty else { return "must name a host" }
        guard !authority.contains("@") else { return "must not contain a user name or password" }
        var host = authority
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { return "has an unterminated IPv6 address" }
            host = authority[...close]
            guard IPAddress(host) != nil else { return "has an invalid IPv6 address" }
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { return "has junk after the host" }
                if let reason = portReason(after.dropFirst()) { return reason }
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            if let reason = portReason(authority[authority.index(after: colon)...]) { return reason }
        }
        guard !host.isEmpty else { return "must name a host" }
        if host.first != "[" {
            let allowed = host.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            }
            guard allowed, !host.hasPrefix("."), !host.contains("..") else { return "has an invalid host name" }
        }
        if let allowedHosts {
            let name = host.lowercased().trimmingSuffix(".")
            let ok = allowedHosts.contains { entry in
                let entry = entry.lowercased()
                return entry.hasPrefix(".") ? name.hasSuffix(entry) : name == entry
            }
            guard ok else { return "host \(name) is not in the allowed hosts" }
        }
        return nil
    }

    private static func portReason(_ port: Substring) -> String? {
        guard !port.isEmpty, port.count <= 5, port.utf8.allSatisfy({ (48...57).contains($0) }), let value = Int(port),
            (1...65_535).contains(value)
        else { return "has an invalid port (1-65535)" }
        return nil
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
