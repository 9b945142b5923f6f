import Testing
import WaitingRoomCore

@Suite("checkoutUrl validation")
struct CheckoutURLTests {
    @Test("safe URLs pass", arguments: [
        "https://good.example/checkout", "http://good.example", "https://good.example:8443/c?x=1#f", "/checkout",
        "/", "/c?a=b", "https://[2001:db8::1]:443/c", "HTTPS://Good.Example/checkout", "https://good.example/%5C",
    ])
    func accepted(url: String) {
        #expect(CheckoutURL.validate(url) == nil)
    }

    @Test("attack strings are refused with a reason", arguments: [
        ("/\\evil.example", "backslash"),
        ("https://evil.example\\@good.example", "backslash"),
        ("https://good.example:99999/", "port"),
        ("https://user@good.example/", "user name"),
        ("https://user:pw@good.example/", "user name"),
        ("//evil.example/x", "//"),
        ("javascript:alert(1)", "http(s)"),
        ("data:text/html,x", "http(s)"),
        ("https://", "host"),
        ("https://:443/", "host"),
        ("https://good.example:0/", "port"),
        ("https://good.example:/", "port"),
        ("https://good.example:+80/", "port"),
        ("https://good.example/\tx", "control"),
        ("https://good.example/\u{0}", "control"),
        ("https://good.example/ x", "spaces"),
        ("/c\r\nSet-Cookie: x", "control"),
        ("https://g\u{00f6}od.example/", "ASCII"),
        ("https://good..example/", "host"),
        ("https://evil.example%2f@good.example/", "user name"),
        ("https://[::1/", "IPv6"),
        ("", "empty"),
        ("ftp://good.example/", "http(s)"),
        ("checkout", "http(s)"),
    ])
    func refused(url: String, reason: String) throws {
        let why = try #require(CheckoutURL.validate(url), "accepted \(url)")
        #expect(why.contains(reason), "\(url): \(why)")
    }

    @Test("an allow-list restricts hosts; paths stay allowed", arguments: [
        ("https://good.example/c", true), ("https://GOOD.example/c", true), ("https://shop.good.example/c", false),
        ("https://pay.shop.example/c", true), ("https://shop.example/c", false), ("https://evil.example/c", false),
        ("/checkout", true), ("https://good.example./c", true),
    ])
    func allowList(url: String, ok: Bool) {
        #expect((CheckoutURL.validate(url, allowedHosts: ["good.example", ".shop.example"]) == nil) == ok)
    }
}
