/// Finds a key written twice in one JSON object. Parsers disagree on which copy counts (ours kept the first,
/// most keep the last), so a body with `{"rate":1,"rate":1000}` could mean one thing to a proxy or a log
/// and another to the gate: request bodies with duplicate keys are refused instead.
///
/// It assumes well-formed JSON (run it after a parser accepted the text) and compares keys after
/// unescaping, so `"a"` and `"\u0061"` are the same key.
public enum JSONDuplicateKeys {
    /// The first key that repeats within one object, or nil.
    public static func first(in bytes: some Collection<UInt8>) -> String? {
        /// One open object (the keys seen so far, and whether the next string is a key) or array (nil).
        var open: [(keys: Set<String>, expectingKey: Bool)?] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            bytes.formIndex(after: &index)
            switch byte {
            case UInt8(ascii: "{"): open.append((keys: [], expectingKey: true))
            case UInt8(ascii: "["): open.append(nil)
            case UInt8(ascii: "}"), UInt8(ascii: "]"): _ = open.popLast()
            case UInt8(ascii: ","): if open.last??.expectingKey == false { open[open.count - 1]?.expectingKey = true }
            case UInt8(ascii: "\""):
                let text = string(bytes, from: &index)
                if let object = open.last ?? nil, object.expectingKey {
                    if object.keys.contains(text) { return text }
                    open[open.count - 1]?.keys.insert(text)
                    open[open.count - 1]?.expectingKey = false
                }
            default: break
            }
        }
        return nil
    }

    /// A string's text from just after its opening quote; leaves `index` after the closing quote.
    private static func string<C: Collection<UInt8>>(_ bytes: C, from index: inout C.Index) -> String {
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flushRaw() {
            scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
            raw.removeAll(keepingCapacity: true)
        }
        func hex4() -> UInt32? {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard index < bytes.endIndex, let digit = hexDigit(bytes[index]) else { return nil }
                value = value << 4 | digit
                bytes.formIndex(after: &index)
            }
            return value
        }
        while index < bytes.endIndex {
            let byte = bytes[index]
            bytes.formIndex(after: &index)
            if byte == UInt8(ascii: "\"") { break }
            guard byte == UInt8(ascii: "\\"), index < bytes.endIndex else {
                raw.append(byte)
                continue
            }
            let escaped = bytes[index]
            bytes.formIndex(after: &index)
            flushRaw()
            switch escaped {
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "b"): scalars.append("\u{8}")
            case UInt8(ascii: "f"): scalars.append("\u{c}")
            case UInt8(ascii: "u"):
                guard var code = hex4() else { break }
                // A surrogate pair is one character.
                if (0xD800..<0xDC00).contains(code), index < bytes.endIndex, bytes[index] == UInt8(ascii: "\\") {
                    var probe = index
                    bytes.formIndex(after: &probe)
                    if probe < bytes.endIndex, bytes[probe] == UInt8(ascii: "u") {
                        bytes.formIndex(after: &probe)
                        let saved = index
                        index = probe
                        if let low = hex4(), (0xDC00..<0xE000).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            index = saved
                        }
                    }
                }
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: scalars.append(Unicode.Scalar(escaped))  // \" \\ \/
            }
        }
        flushRaw()
        return String(scalars)
    }

    private static func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
