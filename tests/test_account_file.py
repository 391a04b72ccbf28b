import pytest

from niftybaskets.paper.account_file import AccountFileError, load_account_file, parse_account_file


def test_defaults_give_one_account_with_every_rule_on(monkeypatch):
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    monkeypatch.delenv("KITE_API_SECRET", raising=False)
    setup = parse_account_file("")
    [account] = setup.all_accounts()
    assert (account.user_id, account.api_key, account.api_secret) == ("ZP0001", "paper", "paper")
    assert account.redirect_url == "http://127.0.0.1:8080/callback"
    rules = setup.rules
    assert rules.market_hours and rules.market_protection and rules.ip_whitelist and rules.funds_check
    assert (rules.order_rate_limit, rules.quote_rate_limit, rules.sale_proceeds) == (10, 1, "same_day")


def test_the_api_key_defaults_to_the_environment_but_never_the_secret(monkeypatch):
    monkeypatch.setenv("KITE_API_KEY", "envkey")
    monkeypatch.setenv("KITE_API_SECRET", "envsecret")
    account = parse_account_file("cash: 10").all_accounts()[0]
    assert (account.api_key, account.api_secret) == ("envkey", "paper")


def test_symbols_are_normalised():
    setup = parse_account_file("holdings: {'nse:infy': 2}\nprices: {infy: 10}")
    assert setup.holdings == {"INFY": 2} and setup.prices == {"INFY": 10}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cash: [1", "not valid YAML"),
        ("- a list", "must be a YAML mapping"),
        ("cash: -5", "cash"),
        ("holdings: {INFY: 3}", "holds INFY but prices: has no price"),
        ("holdings: {INFY: -3}\nprices: {INFY: 1}", "cannot be negative"),
        ("prices: {INFY: 0}", "positive"),
        ("rules: {no_such_rule: true}", "no_such_rule"),
        ("rules: {sale_proceeds: sometimes}", "sale_proceeds"),
        ("rules: {whitelisted_ips: [not-an-ip]}", "not an IP address"),
        ("faults: [{endpoint: orders}]", "METHOD /path"),
        ("circuits: {INFY: [10, 5]}", "lower < upper"),
        ("accounts: [{user_id: ZP0001, api_key: other}]", "own user_id"),
        ("api_key: k\napi_secret: s\naccounts: [{user_id: ZP0002, api_key: k, api_secret: t}]", "share its api_secret"),
    ],
)
def test_problems_are_reported_with_where_they_are(text, message):
    with pytest.raises(AccountFileError, match=message):
        parse_account_file(text)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(AccountFileError, match="cannot read the account file"):
        load_account_file(tmp_path / "absent.yaml")


def test_the_shipped_sample_account_is_valid():
    from niftybaskets.paper.serve import SAMPLE_ACCOUNT

    setup = load_account_file(SAMPLE_ACCOUNT)
    assert setup.cash > 0 and setup.holdings and setup.t1_holdings
