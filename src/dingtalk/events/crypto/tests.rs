//! The published vectors of DINGTALK-EVENTS.md §2.8, each checked three ways: the signature,
//! the decryption (message and owner), and re-encryption with the recovered random prefix.

use super::*;

struct Vector {
    token: &'static str,
    aes_key: &'static str,
    owner: &'static str,
    signed: Option<(&'static str, &'static str, &'static str)>,
    encrypt: &'static str,
    message: &'static str,
    random: &'static [u8; 16],
}

const VECTORS: &[(&str, Vector)] = &[
    (
        "V1",
        Vector {
            token: "tokenxxxx",
            aes_key: "o1w0aum42yaptlz8alnhwikjd3jenzt9cb9wmzptgus",
            owner: "dingxxxxxx",
            signed: Some((
                "f36f4ba5337d426c7d4bca0dbcb06b3ddc1388fc",
                "1605695694141",
                "WelUQl6bCqcBa2fM",
            )),
            encrypt: "X1VSe9cTJUMZu60d3kyLYTrBq5578ZRJtteU94wG0Q4Uk6E/wQYeJRIC0/UFW5Wkya1Ihz9oXAdLlyC9TRaqsQ==",
            message: "success",
            random: b"WelUQl6bCqcBa2fM",
        },
    ),
    (
        "V2",
        Vector {
            token: "mryue",
            aes_key: "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
            owner: "ding6ccabc44d2c8d38b",
            signed: Some(("03044561471240d4a14bb09372dfcfd4fd0e40cb", "1608001896814", "WL4PK6yA")),
            encrypt: "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDCYxxOK+HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3",
            message: r#"{"EventType":"check_url"}"#,
            random: b"l7Y3EcX2CU5w8av3",
        },
    ),
    (
        "V3",
        Vector {
            token: "123456",
            aes_key: "1234567890123456789012345678901234567890123",
            owner: "dingsnotzck6pm5veliw",
            signed: Some((
                "9a95a004dd16f5c307e849b994173f76aa26e5eb",
                "1614767836",
                "A7Co0cJLMzIDtMMI",
            )),
            encrypt: "YvkvaGe4hQxd3VxRmEty0dVlnCOAqwf56xwTRHDHoOURqhalbmBJQk5FNcRk42Gl5T0YQXZNwpwWSm1xAFJ5ZA==",
            message: "success",
            random: b"dICkEDLj0eb6yAbc",
        },
    ),
    (
        "V4",
        Vector {
            token: "123456",
            aes_key: "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij",
            owner: "suite4xxxxxxxxxxxxxxx",
            signed: Some(("5a65ceeef9aab2d149439f82dc191dd6c5cbe2c0", "1445827045067", "nEXhMP4r")),
            encrypt: "1a3NBxmCFwkCJvfoQ7WhJHB+iX3qHPsc9JbaDznE1i03peOk1LaOQoRz3+nlyGNhwmwJ3vDMG+OzrHMeiZI7gTRWVdUBmfxjZ8Ej23JVYa9VrYeJ5as7XM/ZpulX8NEQis44w53h1qAgnC3PRzM7Zc/D6Ibr0rgUathB6zRHP8PYrfgnNOS9PhSBdHlegK+AGGanfwjXuQ9+0pZcy0w9lQ==",
            message: r#"{"EventType":"check_create_suite_url","Random":"LPIdSnlF","TestSuiteKey":"suite4xxxxxxxxxxxxxxx"}"#,
            random: b"hU3bEfGZZewzhG5a",
        },
    ),
    (
        "V5",
        Vector {
            token: "aaaqo3IDtbgWd4uyJYtrzzz",
            aes_key: "aaabWe22zMdfpVVF6kFsZ9E4ODL1wjjykB5ifzjLzzz",
            owner: "dingn4jxcg1w9jy9exxx",
            signed: None,
            encrypt: "cKVPF3fvpb646ZnKPbYn/Y5fChYt4e3OjgLbwuMSMm7fuv/Sfu0POorlMHTLide0mitKXnWk1hs/ON7onS9WcQ==",
            message: "success",
            random: b"3S3b6Df7yFcbCqE2",
        },
    ),
    (
        "V6",
        Vector {
            token: "aaaqo3IDtbgWd4uyJYtrzzz",
            aes_key: "aaabWe22zMdfpVVF6kFsZ9E4ODL1wjjykB5ifzjLzzz",
            owner: "dingn4jxcg1w9jy9exxx",
            signed: None,
            encrypt: "cKVPF3fvpb646ZnKPbYn/bhwggCKWyF+4H4aqPLqmhD1wT7TKRRjHaRJs9/KcAK2oiiCeYS6FV30KJQoKDFmqg==",
            message: "中文测试",
            random: b"3S3b6Df7yFcbCqE2",
        },
    ),
];

#[test]
fn the_published_vectors_verify_decrypt_and_encrypt_byte_for_byte() {
    for (name, v) in VECTORS {
        let crypto = CallbackCrypto::new(v.token, v.aes_key).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some((signature, timestamp, nonce)) = v.signed {
            assert_eq!(crypto.signature(timestamp, nonce, v.encrypt), signature, "{name}");
            let (message, owner) = crypto
                .open_for(&["someone-else", v.owner], signature, timestamp, nonce, v.encrypt)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((message.as_str(), owner), (v.message, v.owner), "{name}");
        }
        let opened = crypto.decrypt(v.encrypt).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            opened,
            Opened {
                message: v.message.into(),
                owner: v.owner.into()
            },
            "{name}"
        );
        assert_eq!(crypto.encrypt_with(v.random, v.message, v.owner), v.encrypt, "{name}");
    }
}

#[test]
fn the_message_length_counts_utf8_bytes() {
    let v = &VECTORS[5].1;
    let crypto = CallbackCrypto::new(v.token, v.aes_key).unwrap();
    let plain = crypto.encrypt_with(v.random, "中文测试", v.owner);
    assert_eq!(plain, v.encrypt);
    assert_eq!("中文测试".len(), 12);
}

#[test]
fn a_bad_signature_a_wrong_owner_and_garbage_are_refused() {
    let v = &VECTORS[1].1;
    let (signature, timestamp, nonce) = v.signed.unwrap();
    let crypto = CallbackCrypto::new(v.token, v.aes_key).unwrap();
    let other_token = CallbackCrypto::new("not-the-token", v.aes_key).unwrap();
    assert_eq!(
        other_token.open(signature, timestamp, nonce, v.encrypt),
        Err(CryptoError::BadSignature)
    );
    assert_eq!(
        crypto.open(signature, "1608001896815", nonce, v.encrypt),
        Err(CryptoError::BadSignature)
    );
    assert_eq!(
        crypto.open_for(&["ding-another-corp"], signature, timestamp, nonce, v.encrypt),
        Err(CryptoError::WrongOwner)
    );
    for garbage in ["", "not base64!", "AAAA", "AAAAAAAAAAAAAAAAAAAAAA=="] {
        assert!(crypto.decrypt(garbage).is_err(), "{garbage:?}");
    }
    // Another key decrypts to noise: refused as malformed or foreign, never accepted.
    let other_key = CallbackCrypto::new(v.token, "1234567890123456789012345678901234567890123").unwrap();
    assert!(
        other_key
            .open_for(&[v.owner], signature, timestamp, nonce, v.encrypt)
            .is_err()
    );
}

#[test]
fn an_aes_key_must_be_43_letters_or_digits() {
    assert!(CallbackCrypto::new("t", "short").is_err());
    assert!(CallbackCrypto::new("t", "123456789012345678901234567890123456789012+").is_err());
    assert!(CallbackCrypto::new("t", "1234567890123456789012345678901234567890123").is_ok());
}

#[test]
fn a_reply_is_signed_and_decrypts_to_success_for_the_owner() {
    let crypto = CallbackCrypto::new("123456", "1234567890123456789012345678901234567890123").unwrap();
    let reply = crypto.success_reply("dingowner", "1614767836", "nonce1");
    let field = |k: &str| reply[k].as_str().unwrap().to_owned();
    let (message, owner) = crypto
        .open_for(
            &["dingowner"],
            &field("msg_signature"),
            &field("timeStamp"),
            &field("nonce"),
            &field("encrypt"),
        )
        .unwrap();
    assert_eq!((message.as_str(), owner), ("success", "dingowner"));
    // Padded to 32-byte blocks: 16 + 4 + 7 + 9 = 36 bytes of plaintext make 64.
    assert_eq!(STANDARD.decode(field("encrypt")).unwrap().len(), 64);
}
