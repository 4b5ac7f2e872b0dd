package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes content to name in a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad_ConfigFile(t *testing.T) {
	path := writeFile(t, "starsbot.env", `# starsbot configuration
   # indented comment

TON_NETWORK=testnet
export TON_USD_RATE="3.25"
TON_DEPOSIT_ADDRESS = '`+testRaw+`'
ADMIN_IDS = 1, 2
LOG_LEVEL=debug
LOG_FORMAT=json
RATE_JSON_PATH=a.b#c
TELEGRAM_TOKEN="`+testToken+`"
PUBLIC_URL=
`)
	c := mustLoad(t, env{
		"CONFIG_FILE": path,
		"LOG_LEVEL":   "warn", // the environment overrides the file
		"LOG_FORMAT":  "",     // an empty variable does not
	})
	check := func(field string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", field, got, want)
		}
	}
	check("TONNetwork", c.TONNetwork, NetworkTestnet)
	check("TONUSDRate", c.TONUSDRate.String(), "3.25")
	check("TONUSDRateSet", c.TONUSDRateSet, true)
	check("TONDepositAddress", c.TONDepositAddress, testRaw)
	check("AdminIDs", len(c.AdminIDs), 2)
	check("LogLevel", c.LogLevel.String(), "WARN")
	check("LogFormat", c.LogFormat, LogFormatJSON)
	check("RateJSONPath", c.RateJSONPath, "a.b#c")
	check("TelegramToken", c.TelegramToken, testToken)
	check("PublicURL", c.PublicURL, "http://127.0.0.1:8080")
	check("Fulfillment", c.Fulfillment, FulfillmentManual)
}

func TestLoad_ConfigFileCRLF(t *testing.T) {
	path := writeFile(t, "crlf.env", "TON_NETWORK=sandbox\r\nFULFILLMENT=manual\r\n")
	if got := mustLoad(t, env{"CONFIG_FILE": path}).Fulfillment; got != FulfillmentManual {
		t.Errorf("Fulfillment = %q, want manual", got)
	}
}

func TestLoad_ConfigFileErrors(t *testing.T) {
	tests := []struct {
		name     string
		content  string
		wantVar  string
		wantText string // part of the message
	}{
		{"no equals", "TON_NETWORK=sandbox\nJUSTAWORD\n", "CONFIG_FILE", "line 2: expected KEY=VALUE"},
		{"unknown variable", "TON_NETWROK=testnet\n", "CONFIG_FILE", "line 1: unknown variable TON_NETWROK"},
		{"nested config file", "CONFIG_FILE=/etc/other\n", "CONFIG_FILE", "line 1: CONFIG_FILE cannot be set"},
		{"lower case name", "ton_network=testnet\n", "CONFIG_FILE", "line 1: invalid variable name"},
		{"empty name", "=x\n", "CONFIG_FILE", "line 1: invalid variable name"},
		{"repeated", "LOG_LEVEL=info\n\nLOG_LEVEL=debug\n", "CONFIG_FILE", "line 3: LOG_LEVEL already set on line 1"},
		{"pasted secret line", testMnemonic + "\n", "CONFIG_FILE", "line 1: expected KEY=VALUE"},
		{"secret in bad name", "abandon ability able=" + testMnemonic + "\n", "CONFIG_FILE", "line 1: invalid variable name"},
		{"bad value", "TON_NETWORK=foo\n", "TON_NETWORK", `(got "foo")`},
		{"bad secret value", "TON_WALLET_MNEMONIC=" + testMnemonic[:40] + "\n", "TON_WALLET_MNEMONIC", "must be 24 words"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "bad.env", tt.content)
			_, err := Load(env{"CONFIG_FILE": path}.get)
			checkValidationError(t, err, tt.wantVar, nil)
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
			for _, w := range []string{"abandon", "ability", testMnemonic[:40]} {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q echoes secret text %q", err, w)
				}
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := Load(env{"CONFIG_FILE": filepath.Join(t.TempDir(), "nope.env")}.get)
		checkValidationError(t, err, "CONFIG_FILE", nil)
	})
}

func TestLoad_SecretFiles(t *testing.T) {
	dir := t.TempDir()
	mnemonicFile := writeFile(t, "mnemonic", "\n  "+strings.Replace(testMnemonic, " act ", "\nact\t", 1)+"\n\n")
	cookiesFile := writeFile(t, "cookies", "  "+testCookies+"\n")
	shortFile := writeFile(t, "short", strings.Join(strings.Fields(testMnemonic)[:12], "\n"))
	emptyFile := writeFile(t, "empty", " \n\t\n")
	missing := filepath.Join(dir, "missing")

	t.Run("read and trimmed", func(t *testing.T) {
		c := mustLoad(t, env{"TON_WALLET_MNEMONIC_FILE": mnemonicFile, "FRAGMENT_COOKIES_FILE": cookiesFile})
		if c.TONWalletMnemonic != testMnemonic {
			t.Errorf("TONWalletMnemonic = %q, want the normalised words", c.TONWalletMnemonic)
		}
		if c.FragmentCookies != testCookies {
			t.Errorf("FragmentCookies = %q, want %q", c.FragmentCookies, testCookies)
		}
	})

	t.Run("fragment from files", func(t *testing.T) {
		mustLoad(t, testnet.with("TON_NETWORK", "mainnet", "TON_DEPOSIT_ADDRESS", testFriendly, "FULFILLMENT", "fragment", "TON_WALLET_MNEMONIC_FILE", mnemonicFile, "FRAGMENT_COOKIES_FILE", cookiesFile))
	})

	t.Run("environment pair overrides file pair", func(t *testing.T) {
		cfgFile := writeFile(t, "cfg.env", "TON_WALLET_MNEMONIC_FILE="+shortFile+"\nFRAGMENT_COOKIES=fromfile\n")
		c := mustLoad(t, env{"CONFIG_FILE": cfgFile, "TON_WALLET_MNEMONIC": testMnemonic, "FRAGMENT_COOKIES_FILE": cookiesFile})
		if c.TONWalletMnemonic != testMnemonic || c.FragmentCookies != testCookies {
			t.Error("the environment did not override the file's secrets")
		}
	})

	t.Run("file pair from config file", func(t *testing.T) {
		cfgFile := writeFile(t, "cfg.env", "TON_WALLET_MNEMONIC_FILE="+mnemonicFile+"\n")
		if c := mustLoad(t, env{"CONFIG_FILE": cfgFile}); c.TONWalletMnemonic != testMnemonic {
			t.Errorf("TONWalletMnemonic = %q", c.TONWalletMnemonic)
		}
	})

	tests := []struct {
		name    string
		env     env
		wantVar string
	}{
		{"both mnemonic", env{"TON_WALLET_MNEMONIC": testMnemonic, "TON_WALLET_MNEMONIC_FILE": mnemonicFile}, "TON_WALLET_MNEMONIC_FILE"},
		{"both cookies", env{"FRAGMENT_COOKIES": testCookies, "FRAGMENT_COOKIES_FILE": cookiesFile}, "FRAGMENT_COOKIES_FILE"},
		{"missing mnemonic file", env{"TON_WALLET_MNEMONIC_FILE": missing}, "TON_WALLET_MNEMONIC_FILE"},
		{"missing cookies file", env{"FRAGMENT_COOKIES_FILE": missing}, "FRAGMENT_COOKIES_FILE"},
		{"directory", env{"TON_WALLET_MNEMONIC_FILE": dir}, "TON_WALLET_MNEMONIC_FILE"},
		{"empty file", env{"FRAGMENT_COOKIES_FILE": emptyFile}, "FRAGMENT_COOKIES_FILE"},
		{"short mnemonic in file", env{"TON_WALLET_MNEMONIC_FILE": shortFile}, "TON_WALLET_MNEMONIC_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.env.get)
			checkValidationError(t, err, tt.wantVar, tt.env)
			if err == nil {
				return
			}
			for _, s := range []string{"abandon", "ability", "cookiesecret"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q echoes file contents %q", err, s)
				}
			}
		})
	}
}

// TestVariables checks that the list of variables a CONFIG_FILE may set is
// exactly what Load reads, so that no setting works from the environment
// but is refused in the file.
func TestVariables(t *testing.T) {
	read := map[string]bool{}
	_, err := Load(func(name string) string {
		read[name] = true
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	delete(read, "CONFIG_FILE")
	for _, v := range variables {
		if !read[v] {
			t.Errorf("%s is listed but never read", v)
		}
		delete(read, v)
	}
	for v := range read {
		t.Errorf("%s is read but a CONFIG_FILE may not set it", v)
	}
}
