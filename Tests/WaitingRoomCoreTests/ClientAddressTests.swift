import Testing
import WaitingRoomCore

private let proxies = try! TrustedProxies.parse("10.0.0.0/8, 192.168.1.1, fd00::/8, 2001:db8:ffff::/48").get()

@Suite("Client address behind proxies")
struct ClientAddressTests {
    @Test("IP addresses parse to their canonical form", arguments: [
        ("1.2.3.4", "1.2.3.4"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
        ("::1", "::1"), ("::", "::"), ("2001:DB8::1", "2001:db8::1"), ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("[2001:db8::1]", "2001:db8::1"), ("::ffff:1.2.3.4", "1.2.3.4"), ("fe80::1:2:3:4", "fe80::1:2:3:4"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("64:ff9b::192.0.2.1", "64:ff9b::c000:201"),
    ])
    func parses(text: String, canonical: String) throws {
        #expect(try #require(IPAddress(text)).description == canonical)
    }

    @Test("junk is not an IP address", arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1.2.3.4:80", "a.b.c.d", " 1.2.3.4",
        ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "g::1", "[::1", "::1]", "[]",
        "fe80::1%eth0", "unknown", "_hidden", "::ffff:1.2.3", "+1::", "-1::",
    ])
    func refuses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test("trusted proxy lists", arguments: [
        ("", 0), ("10.0.0.0/8", 1), ("10.0.0.0/8,127.0.0.1", 2), ("::/0 0.0.0.0/0", 2), ("fd00::/8\n10.1.0.0/16", 2),
    ])
    func proxyLists(text: String, count: Int) throws {
        #expect(try TrustedProxies.parse(text).get().blocks.count == count)
    }

    @Test("bad proxy lists name the bad entry", arguments: [
        ("10.0.0.0/33", "10.0.0.0/33"), ("10.0.0.1/8", "10.0.0.1/8"), ("10.0.0.0/", "10.0.0.0/"), ("x", "x"),
        ("10.0.0.0/8,fd00::/129", "fd00::/129"), ("10.0.0.0/-1", "10.0.0.0/-1"), ("1.2.3.4/8/8", "1.2.3.4/8/8"),
    ])
    func badProxyLists(text: String, entry: String) {
        guard case .failure(let error) = TrustedProxies.parse(text) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(error.entry == entry)
    }

    @Test("CIDR membership", arguments: [
        ("10.255.0.1", true), ("11.0.0.1", false), ("192.168.1.1", true), ("192.168.1.2", false),
        ("fd12::1", true), ("fe00::1", false), ("2001:db8:ffff:1::1", true), ("2001:db8:fffe::1", false),
        ("::ffff:10.0.0.1", true),
    ])
    func membership(address: String, trusted: Bool) throws {
        #expect(proxies.contains(try #require(IPAddress(address))) == trusted)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let peer: String?
        var forwarded: String? = nil
        var xff: String? = nil
        let expected: String?
        var testDescription: String { name }
    }

    @Test("resolution walks trusted hops from the right", arguments: [
        Case(name: "direct client, no headers", peer: "203.0.113.9", expected: "203.0.113.9"),
        Case(name: "untrusted peer's XFF is ignored (spoof)", peer: "203.0.113.9", xff: "1.1.1.1", expected: "203.0.113.9"),
        Case(name: "untrusted peer's Forwarded is ignored (spoof)", peer: "203.0.113.9", forwarded: "for=1.1.1.1", expected: "203.0.113.9"),
        Case(name: "one trusted proxy", peer: "10.0.0.5", xff: "203.0.113.9", expected: "203.0.113.9"),
        Case(name: "client-prepended entry is ignored (spoof)", peer: "10.0.0.5", xff: "1.1.1.1, 203.0.113.9", expected: "203.0.113.9"),
        Case(name: "two trusted proxies", peer: "10.0.0.5", xff: "203.0.113.9, 10.0.0.7", expected: "203.0.113.9"),
        Case(name: "spoofed entry left of two proxies", peer: "10.0.0.5", xff: "6.6.6.6, 203.0.113.9, 10.0.0.7", expected: "203.0.113.9"),
        Case(name: "client claims to be a trusted proxy: the next hop left is still client-written", peer: "10.0.0.5", xff: "6.6.6.6, 10.9.9.9", expected: "6.6.6.6"),
        Case(name: "trusted peer without headers", peer: "10.0.0.5", expected: "10.0.0.5"),
        Case(name: "all hops trusted: leftmost", peer: "10.0.0.5", xff: "10.0.0.8, 10.0.0.7", expected: "10.0.0.8"),
        Case(name: "garbage hop stops the walk at the last good address", peer: "10.0.0.5", xff: "203.0.113.9, garbage", expected: "10.0.0.5"),
        Case(name: "garbage left of the client is ignored", peer: "10.0.0.5", xff: "garbage, 203.0.113.9", expected: "203.0.113.9"),
        Case(name: "XFF with port", peer: "10.0.0.5", xff: "203.0.113.9:5555", expected: "203.0.113.9"),
        Case(name: "XFF with IPv6", peer: "10.0.0.5", xff: "2001:db8:1:2:3:4:5:6", expected: "2001:db8:1:2::/64"),
        Case(name: "Forwarded preferred over XFF", peer: "10.0.0.5", forwarded: "for=198.51.100.1", xff: "203.0.113.9", expected: "198.51.100.1"),
        Case(name: "Forwarded quoted IPv6 with port", peer: "10.0.0.5", forwarded: #"for="[2001:db8:aa:bb::1]:4711";proto=https"#, expected: "2001:db8:aa:bb::/64"),
        Case(name: "Forwarded several elements", peer: "10.0.0.5", forwarded: "for=6.6.6.6, for=203.0.113.9;by=10.0.0.5, for=10.0.0.7", expected: "203.0.113.9"),
        Case(name: "Forwarded obfuscated identifier stops the walk", peer: "10.0.0.5", forwarded: "for=_hidden, for=10.0.0.7", expected: "10.0.0.7"),
        Case(name: "Forwarded element without for= is unreadable: the peer", peer: "10.0.0.5", forwarded: "proto=https", expected: "10.0.0.5"),
        Case(name: "Forwarded unterminated quote: the peer", peer: "10.0.0.5", forwarded: #"for="1.2.3.4"#, expected: "10.0.0.5"),
        Case(name: "Forwarded case-insensitive key", peer: "10.0.0.5", forwarded: "For=203.0.113.9", expected: "203.0.113.9"),
        Case(name: "IPv6 peer keyed by /64", peer: "2001:db8:1:2:aaaa:bbbb:cccc:dddd", expected: "2001:db8:1:2::/64"),
        Case(name: "IPv4-mapped peer is IPv4", peer: "::ffff:203.0.113.9", expected: "203.0.113.9"),
        Case(name: "trusted IPv6 proxy", peer: "fd00::1", xff: "203.0.113.9", expected: "203.0.113.9"),
        Case(name: "empty XFF entries stop the walk", peer: "10.0.0.5", xff: "203.0.113.9,,", expected: "10.0.0.5"),
        Case(name: "unknown peer", peer: nil, xff: "1.2.3.4", expected: nil),
        Case(name: "unparsable peer", peer: "not-an-ip", expected: nil),
    ])
    func resolution(test: Case) {
        let resolved = ClientAddress.resolve(peer: test.peer, forwarded: test.forwarded, xForwardedFor: test.xff, trusted: proxies)
        #expect(resolved?.limitKey == test.expected)
    }

    @Test("nothing is trusted by default: headers never change the client")
    func defaultTrustsNothing() {
        let resolved = ClientAddress.resolve(peer: "127.0.0.1", forwarded: "for=1.1.1.1", xForwardedFor: "2.2.2.2", trusted: .none)
        #expect(resolved?.limitKey == "127.0.0.1")
    }

    @Test("two addresses in one /64 share a key; neighbouring /64s do not")
    func ipv6Prefix() {
        func key(_ text: String) -> String? { ClientAddress.resolve(peer: text, forwarded: nil, xForwardedFor: nil, trusted: .none)?.limitKey }
        #expect(key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        #expect(key("2001:db8:1:2::1") != key("2001:db8:1:3::1"))
    }
}
