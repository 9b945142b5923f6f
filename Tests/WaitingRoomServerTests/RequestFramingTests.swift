import NIOHTTP1
import Testing
@testable import WaitingRoomServer

/// The request-head checks as pure rules, without a server.
@Suite("Request framing rules")
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
}
