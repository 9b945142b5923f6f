// Reaches into internals (`@testable`): built and run on the debug build only. The release build runs the
// suites that see the modules as shipped (`make test-release`).
#if DEBUG
import NIOHTTP1
import Testing
@testable import WaitingRoomServer

/// The request-head checks and the "join again" form check as pure rules, without a server.
@Suite("Request framing and form origin rules")
struct RequestFramingTests {
    static func head(_ version: HTTPVersion, _ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: .POST, uri: "/", headers: HTTPHeaders(headers))
    }

    @Test("verdicts", arguments: [
        (HTTPVersion.http1_1, [("Host", "x")], "pass"),
        (.http1_1, [], "400 missing_host"),
        (.http1_1, [("Host", "a"), ("Host", "b")], "400 missing_host"),
        (.http1_0, [], "pass"),
        (.http1_0, [("Transfer-Encoding", "chunked")], "400 bad_framing"),
        (.http1_1, [("Host", "x"), ("Transfer-Encoding", "chunked")], "pass"),
        (.http1_1, [("Host", "x"), ("Content-Length", "16384")], "pass"),
        (.http1_1, [("Host", "x"), ("Content-Length", "16385")], "413 body_too_large"),
        (.http1_1, [("Host", "x"), ("Content-Length", "1000000000000")], "413 body_too_large"),
        (.http1_1, [("Host", "x"), ("Content-Length", "10"), ("Expect", "100-continue")], "continue"),
        (.http1_1, [("Host", "x"), ("Content-Length", "10"), ("Expect", "100-Continue")], "continue"),
        (.http1_1, [("Host", "x"), ("Content-Length", "99999"), ("Expect", "100-continue")], "413 body_too_large"),
        (.http1_1, [("Host", "x"), ("Expect", "something")], "417 expectation_failed"),
        (.http1_0, [("Expect", "100-continue")], "pass"),
    ] as [(HTTPVersion, [(String, String)], String)])
    func verdicts(version: HTTPVersion, headers: [(String, String)], expected: String) {
        let verdict: String
        switch RequestFraming.check(Self.head(version, headers), maxBodyBytes: 16_384) {
        case .pass: verdict = "pass"
        case .continueFirst: verdict = "continue"
        case .refuse(let status, let code, _): verdict = "\(status.code) \(code)"
        }
        #expect(verdict == expected)
    }

    @Test("the join-again form: the browser's Sec-Fetch-Site first, then the ticket's token, then a same-host Origin or Referer", arguments: [
        // (Sec-Fetch-Site, Origin, Referer, token matches, allowed)
        ("same-origin", nil, nil, false, true),
        ("none", nil, nil, false, true),
        ("cross-site", nil, nil, true, false),
        ("same-site", "https://shop.example", nil, false, false),
        (nil, "https://evil.example", nil, false, false),
        (nil, "null", nil, false, false),
        (nil, "null", nil, true, true),
        (nil, "https://evil.example", nil, true, true),
        (nil, "https://gate.example", nil, false, true),
        (nil, "https://gate.example:8443", nil, false, false),
        (nil, "https://user@gate.example", nil, false, false),
        (nil, nil, "https://gate.example/wait/drop?js=0", false, true),
        (nil, nil, "https://evil.example/gate.example", false, false),
        (nil, nil, nil, false, false),
    ] as [(String?, String?, String?, Bool, Bool)])
    func formCheck(site: String?, origin: String?, referer: String?, tokenMatches: Bool, allowed: Bool) {
        let check = JoinAgainFormCheck(
            secFetchSite: site, origin: origin, referer: referer, host: "Gate.example",
            token: tokenMatches ? "abc" : "abd", expectedToken: "abc"
        )
        #expect(check.allows == allowed)
    }

    @Test("form fields")
    func formFields() {
        #expect(JoinAgainFormCheck.formField("token", in: "a=1&token=x%2By+z&b=2") == "x+y z")
        #expect(JoinAgainFormCheck.formField("token", in: "tokens=1") == nil)
        #expect(JoinAgainFormCheck.formField("token", in: "") == nil)
    }
}
#endif
