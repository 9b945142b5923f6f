import Foundation
import TestSupport
import Testing
import WaitingRoomTokens

/// The one JSON string escaper, held to Foundation's parser: whatever goes in comes back out unchanged.
@Suite("JSON text")
struct JSONTextTests {
    @Test(
        "quotes, backslashes, control characters and non-ASCII survive a round trip",
        arguments: ["plain", #"say "hi""#, #"back\slash"#, "line\nbreak\r\ttab", "\u{0}\u{1}\u{1f}\u{7f}", "</script>", "ünïcødé ✓ 🎟️", ""]
    )
    func roundTrip(_ text: String) throws {
        #expect(try decode(#""\#(JSONText.escape(text))""#) as? String == text)
    }

    @Test("any string of random scalars round-trips (2,000 cases, fixed seed)")
    func randomRoundTrip() throws {
        var random = SplitMix64(seed: 20)
        for _ in 0..<2_000 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...24, using: &random) {
                // Mostly ASCII and controls (where escaping matters), some of the rest of the BMP and beyond.
                let pick = Int.random(in: 0..<10, using: &random)
                let value: UInt32 = pick < 6 ? .random(in: 0...0x7f, using: &random) : pick < 9 ? .random(in: 0x80...0xd7ff, using: &random) : .random(in: 0x10000...0x10ffff, using: &random)
                text.append(Unicode.Scalar(value)!)
            }
            let string = String(text)
            #expect(try decode(#""\#(JSONText.escape(string))""#) as? String == string)
        }
    }

    @Test("an error body is an object with exactly the code and the message")
    func errorBody() throws {
        let body = JSONText.errorBody(code: "keys_unavailable", message: "bad \"key\"\\\n\u{1}")
        let object = try #require(try decode(body) as? [String: String])
        #expect(object == ["error": "keys_unavailable", "message": "bad \"key\"\\\n\u{1}"])
    }

    private func decode(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }
}
