// lua-health runs an Argo CD resource health script the way Argo CD runs a health check
// configured in argocd-cm: on github.com/yuin/gopher-lua, with only the package, base and
// table libraries open (no string, math or io library: Argo CD opens the standard libraries
// for its built-in scripts only), the resource as the global `obj`, a one-second deadline,
// and the script's returned table read back as {"status": ..., "message": ...}.
//
// Usage: lua-health SCRIPT.lua < resource.json > health.json
// Exit 0 with the health as JSON; exit 1 with the Lua error on stderr; exit 2 on bad input.
// Built by scripts/build-lua-harness into ~/.cache/canarygate/bin (never committed).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// The statuses Argo CD accepts from a health script; anything else it shows as Unknown.
var validStatus = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: lua-health SCRIPT.lua < resource.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	decoder := json.NewDecoder(os.Stdin)
	decoder.UseNumber()
	var resource map[string]interface{}
	if err := decoder.Decode(&resource); err != nil {
		fmt.Fprintln(os.Stderr, "resource:", err)
		os.Exit(2)
	}
	result, err := run(string(script), resource)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(result); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(script string, resource map[string]interface{}) (map[string]interface{}, error) {
	state := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer state.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := state.CallByParam(lua.P{Fn: state.NewFunction(lib.open), NRet: 0, Protect: true},
			lua.LString(lib.name)); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	state.SetContext(ctx)
	state.SetGlobal("obj", toLua(state, resource))
	if err := state.DoString(script); err != nil {
		return nil, err
	}
	returned, ok := state.Get(-1).(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("the script returned %s, not a table", state.Get(-1).Type())
	}
	health, ok := fromLua(returned).(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("the script returned an array, not a table with status and message")
	}
	status, _ := health["status"].(string)
	if !validStatus[status] {
		return nil, fmt.Errorf("the script returned status %q, which Argo CD does not know", status)
	}
	return health, nil
}

func toLua(state *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case json.Number:
		// Kubernetes objects reach Argo CD as int64 or float64: a Lua number either way.
		number, err := v.Float64()
		if err != nil {
			return lua.LString(v)
		}
		return lua.LNumber(number)
	case []interface{}:
		array := state.CreateTable(len(v), 0)
		for _, item := range v {
			array.Append(toLua(state, item))
		}
		return array
	case map[string]interface{}:
		table := state.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetString(key, toLua(state, item))
		}
		return table
	}
	return lua.LNil
}

func fromLua(value lua.LValue) interface{} {
	switch v := value.(type) {
	case *lua.LNilType:
		return nil
	case lua.LBool:
		return bool(v)
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return float64(v)
	case *lua.LTable:
		if v.MaxN() > 0 {
			array := []interface{}{}
			for i := 1; i <= v.MaxN(); i++ {
				array = append(array, fromLua(v.RawGetInt(i)))
			}
			return array
		}
		object := map[string]interface{}{}
		v.ForEach(func(key, item lua.LValue) {
			if name, ok := key.(lua.LString); ok {
				object[string(name)] = fromLua(item)
			}
		})
		return object
	}
	return value.String()
}
