/// Hand-written JSON on hot paths and in small answers (error bodies, log lines, hook payloads): one escaper
/// for all of them, held to `JSONSerialization` by a test.
public enum JSONText {
    /// `text` as the inside of a JSON string: quotes, backslashes and every control character escaped (RFC 8259 §7).
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += Self.unicodeEscape(scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `{"error":"<code>","message":"<text>"}`: the error body every part of the product writes.
    public static func errorBody(code: String, message: String) -> String {
        #"{"error":"\#(escape(code))","message":"\#(escape(message))"}"#
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
