/**
 * Carries a user code to the code entry form without it ever being part of
 * a URL the browser requests (request URLs reach logs).
 *
 * - `verification_uri_complete` is `…/v1/device#user_code=XXXX-XXXX`: the
 *   fragment is never sent to the server (RFC 3986 §3.5), and RFC 8628
 *   §3.3.1 lets that URI carry the code in any form. The script takes it out
 *   of the address bar.
 * - An element `#typed-user-code` with `data-user-code` (the sign-in page
 *   shown for a code POSTed without a session) hands over a typed code.
 * - On pages without the form (the sign-in page) the code waits in
 *   sessionStorage, which survives the provider's redirects in this tab;
 *   the entry form (`#user-code-input`) takes it out again and prefills
 *   itself. The person still submits the form: nothing is decided here.
 */
export const DEVICE_CODE_SCRIPT = `
(function(){
  var KEY='oidc-device-user-code', store=null;
  try{ store=window.sessionStorage; }catch(e){}
  function apply(){
    var code='';
    var m=/^#user_code=([^&]*)/.exec(location.hash);
    if(m){
      try{ code=decodeURIComponent(m[1]); }catch(e){}
      history.replaceState(null,'',location.pathname+location.search);
    }
    var typed=document.getElementById('typed-user-code');
    if(typed&&typed.dataset.userCode){ code=typed.dataset.userCode; }
    code=code.slice(0,64);
    var input=document.getElementById('user-code-input');
    try{
      if(input){
        code=code||(store&&store.getItem(KEY))||'';
        if(store){ store.removeItem(KEY); }
      }else if(code&&store){
        store.setItem(KEY,code);
      }
    }catch(e){}
    if(input&&code){ input.value=code; }
  }
  apply();
  // The link opened in a tab already showing this page changes only the fragment.
  window.addEventListener('hashchange',apply);
})();
`;
