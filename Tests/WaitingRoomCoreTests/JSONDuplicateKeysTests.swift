import Testing
import WaitingRoomCore

@Suite("JSON duplicate keys")
struct JSONDuplicateKeysTests {
    @Test("a key written twice in one object is found, at any depth and however it is escaped", arguments: [
        (#"{"rate":1,"rate":1000}"#, "rate"),
        (#"{"a":{"b":1,"b":2}}"#, "b"),
        (#"{"hooks":[{"url":"x","url":"y"}]}"#, "url"),
        (#"{"rate":1,"r\u0061te":2}"#, "rate"),
        (#"{"\ud83d\ude00":1,"😀":2}"#, "😀"),
        (#"{"a\"b":1,"a\"b":2}"#, "a\"b"),
        (#"[{"k":1},{"k":2,"k":3}]"#, "k"),
    ] as [(String, String)])
    func found(json: String, key: String) {
        #expect(JSONDuplicateKeys.first(in: Array(json.utf8)) == key)
    }

    @Test("the same key in different objects, or a key's text as a value, is no duplicate", arguments: [
        #"{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}"#,
        #"{"a":"a","b":["a","a"],"c":"b"}"#,
        #"{"a,b":1,"a":{"b":2},"b":"}"}"#,
        #"{"ab":1,"a\\b":2,"a\"b":3}"#,
        #"[1,"x",{"x":{}},{"x":[]}]"#,
        "{}",
    ])
    func none(json: String) {
        #expect(JSONDuplicateKeys.first(in: Array(json.utf8)) == nil)
    }
}
