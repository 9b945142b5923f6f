/// Room names appear in URLs, cookie names and Redis hash tags, so they are kept to a safe alphabet:
/// 1–64 characters of `a-z`, `0-9`, `-` and `_`, starting with a letter or digit.
public enum RoomName {
    public static func isValid(_ name: String) -> Bool {
        isValid(Substring(name))
    }

    public static func isValid(_ name: Substring) -> Bool {
        let bytes = name.utf8
        guard (1...64).contains(bytes.count), let first = bytes.first, isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
