"""Outgoing messages: text messages through a provider interface, with rate-limited verification
codes and the development provider's outbox (sms); Alibaba Cloud SMS as a provider through its
SDK (sms_aliyun); and e-mail over SMTP with the address check (mail)."""
