"""Accounts and signing in: the mini-program's sign-in, with accounts found or created from a
platform identity and hashed bearer tokens (auth); phone accounts registered, signed in and reset
with SMS codes and passwords (phone_auth); argon2id password hashes and the rules a new password
meets (passwords); single-use image captchas (captchas); the wrong-password limits every process
counts alike (sign_in_limits); the back office's sign-in, sessions, password change and reset,
and admin accounts with their region scope (admin_auth); and the WeChat and Alipay platform
clients for sign-in, phone decryption and wxa codes (wechat, alipay)."""
