# Entraide — mensajes de la interfaz en español.
# Mantenga los tres idiomas sincronizados: una prueba compara los identificadores de los mensajes.

skip-to-content = Ir al contenido
nav-label = Navegación principal
nav-dashboard = Panel
nav-cases = Casos
nav-users = Usuarios
nav-organisation = Organización
nav-audit = Registro de auditoría
nav-account = Mi cuenta
language = Idioma
language-apply = Cambiar
sign-out = Cerrar sesión
footer-tagline = Entraide — cooperación internacional contra la ciberdelincuencia. Cada acceso al contenido de un caso queda registrado.
you = usted
save = Guardar
saved = Guardado.
form-has-errors = Algunos campos requieren su atención: consulte los mensajes junto a ellos.

sign-in-title = Iniciar sesión
sign-in-intro = Utilice la dirección de correo electrónico y la contraseña proporcionadas por el administrador de su nodo.
sign-in-submit = Iniciar sesión
signin-notice-expired = Su sesión ha caducado. Vuelva a iniciar sesión.
signin-notice-required = Inicie sesión para continuar.
signin-notice-signed-out = Ha cerrado la sesión.
second-factor-title = Segundo factor
second-factor-intro = Introduzca el código de seis dígitos que muestra su aplicación de autenticación.
second-factor-enrol-intro = Su organización exige un segundo factor. Añada esta clave a una aplicación de autenticación (escribiendo el secreto o abriendo el enlace) e introduzca después el código de seis dígitos que muestre.
second-factor-submit = Verificar
totp-secret = Clave secreta
totp-uri = Enlace para la aplicación de autenticación

field-email = Correo electrónico
field-password = Contraseña
field-initial-password = Contraseña inicial
field-totp-code = Código de seis dígitos
field-display-name = Nombre
field-roles = Funciones
field-second-factor = Segundo factor (TOTP)
field-organisation-name = Organización
field-organisation-kind = Tipo de organización
field-node-id = Identificador del nodo
field-country = País
field-case-reference = Referencia del caso
field-case-title = Título
field-case-summary = Resumen de los hechos
field-status = Estado
field-updated = Última modificación
field-created = Abierto
field-added = Añadido
field-access = Su acceso
field-actions = Acciones
hint-case-reference = El número nacional del caso o expediente, p. ej. PNC-2026-0042 (letras, dígitos y - / . _).
hint-case-summary = Contenido del caso: solo los miembros del caso pueden leerlo.
hint-password = Al menos 12 caracteres. El usuario debería cambiarla en su primer inicio de sesión.
hint-require-totp = A los usuarios sin segundo factor se les pedirá que configuren uno en su próximo inicio de sesión.

dashboard-welcome = Bienvenido/a, { $name }
dashboard-organisation = Su organización
dashboard-you = Su cuenta
dashboard-enable-totp = Configurar un segundo factor
dashboard-my-cases = { $count ->
    [0] Todavía no es miembro de ningún caso
    [one] Su caso
   *[other] Sus { $count } casos
}
dashboard-all-cases = Todos los casos

cases-new = Abrir un caso
cases-create = Abrir el caso
cases-none = No hay casos que mostrar.
cases-need-to-know = Usted ve los casos de los que es miembro. El contenido de los casos se comparte según el principio de necesidad de conocer.
case-status-open = Abierto
case-status-closed = Cerrado
access-member = Miembro
access-manager = Solo administración
case-no-summary = Todavía no hay resumen.
case-manager-notice = Usted administra este nodo pero no es miembro de este caso, por lo que su contenido está oculto. Si se añade como miembro, obtendrá acceso; esta acción queda registrada en el registro de auditoría.
case-add-myself = Añadirme como miembro
case-members = Miembros
case-add-member-label = Correo electrónico del usuario que se añadirá
case-add-member = Añadir miembro
case-remove-member = Retirar

role-administrator = Administrador
role-officer = Agente
role-approver = Aprobador
role-custodian = Custodio de pruebas
role-analyst = Analista
role-auditor = Auditor

kind-central-authority = Autoridad central
kind-point-of-contact-24-7 = Punto de contacto 24/7
kind-prosecution-service = Ministerio público (fiscalía)
kind-police-cyber-unit = Unidad policial de ciberdelincuencia
kind-court = Tribunal
kind-forensic-laboratory = Laboratorio forense
kind-service-provider = Proveedor de servicios
kind-cert = CERT
kind-international-organisation = Organización internacional
kind-reporting-hotline = Línea de denuncia

users-new = Añadir un usuario
users-create = Crear el usuario
users-roles-of = Funciones de { $name }
users-save-roles = Guardar funciones
users-disable = Desactivar
users-enable = Activar
status-active = Activo
status-disabled = Desactivado
status-locked = Bloqueado
status-totp = Segundo factor
status-enabled = Activado

organisation-security = Seguridad
organisation-require-totp = Exigir un segundo factor (TOTP) a todos los usuarios

audit-intro = Cada inicio de sesión, uso de token, cambio de permisos y lectura o modificación del contenido de un caso. El registro no puede editarse ni eliminarse.
audit-actor = Quién
audit-action = Acción
audit-outcome = Resultado
audit-from = Desde
audit-to = Hasta
audit-any = Cualquiera
audit-filter = Filtrar
audit-export = Exportar CSV
audit-none = Ninguna entrada coincide.
audit-when = Cuándo (UTC)
audit-target = Objeto
audit-address = Dirección
audit-case-link = caso
audit-older = Entradas anteriores
outcome-success = Éxito
outcome-denied = Denegado
outcome-failure = Fallo

account-totp-on = Se requiere un código de su aplicación de autenticación al iniciar sesión.
account-totp-off = No hay ningún segundo factor configurado. Recomendamos uno para cada cuenta.
account-totp-start = Configurar un segundo factor
account-totp-confirm = Confirmar

error-page-title = Se ha producido un error
error-page-code = Código de error:
error-page-home = Volver al panel
error-page-not-found = Esta página no existe.
error-invalid-credentials = Correo electrónico o contraseña incorrectos.
error-account-locked = Demasiados intentos fallidos: esta cuenta está bloqueada temporalmente. Vuelva a intentarlo más tarde o consulte a su administrador.
error-too-many-attempts = Demasiados intentos desde su dirección. Espere un minuto y vuelva a intentarlo.
error-invalid-second-factor = Código incorrecto o ya utilizado. Compruebe la hora de su aplicación de autenticación y vuelva a intentarlo.
error-forbidden-role = Sus funciones no le permiten hacer esto.
error-not-case-member = Solo los miembros de este caso pueden ver su contenido.
error-cannot-manage-members = Usted no puede gestionar los miembros de este caso.
error-csrf-rejected = Este formulario ha caducado o no procede de este sitio. Vuelva a cargar la página e inténtelo de nuevo.
error-not-found = No encontrado.
error-payload-too-large = Lo que ha enviado es demasiado grande.
error-internal = Se ha producido un error interno. Ha quedado registrado.
error-malformed-form = No se ha podido leer el formulario.
error-unsupported-language = Elija inglés, francés o español.
error-email-taken = Ya existe un usuario con esta dirección de correo electrónico.
error-case-reference-taken = Ya existe un caso con esta referencia.
error-already-member = Este usuario ya es miembro del caso.
error-unknown-user = Ningún usuario activo tiene esta dirección de correo electrónico.
error-cannot-disable-self = No puede desactivar su propia cuenta.
error-cannot-demote-self = No puede retirar su propia función de administrador.
error-invalid-email = Introduzca una dirección de correo electrónico válida.
error-display-name-required = Introduzca un nombre.
error-display-name-too-long = El nombre es demasiado largo (120 caracteres como máximo).
error-password-too-short = La contraseña debe tener al menos 12 caracteres.
error-password-too-long = La contraseña es demasiado larga (256 caracteres como máximo).
error-invalid-role = Función desconocida.
error-roles-required = Elija al menos una función.
error-case-reference-required = Introduzca la referencia del caso.
error-invalid-case-reference = Utilice como máximo 64 letras, dígitos y - / . _ para la referencia.
error-case-title-required = Introduzca un título.
error-case-title-too-long = El título es demasiado largo (200 caracteres como máximo).
error-case-summary-too-long = El resumen es demasiado largo (10 000 caracteres como máximo).
error-control-characters = Elimine los caracteres de control invisibles de este campo.
error-invalid-time = Introduzca una fecha como 2026-11-25.
error-totp-already-enabled = Ya hay un segundo factor configurado.
error-totp-not-started = Comience primero a configurar el segundo factor.
